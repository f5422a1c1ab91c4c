// One parsed HTTP request -> one response, in Beast's message types: basic authentication, the URI
// limit, absolute-form targets, HEAD and the headers every answer carries; routes.cpp chooses the
// body. No sockets here: http_session.hpp reads and writes, off this code's thread.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <string_view>

#include "wsm/exporter/monitor.hpp"
#include "wsm/exporter/web_config.hpp"

namespace wsm::exporter {

using WireRequest = boost::beast::http::request<boost::beast::http::string_body>;
using WireResponse = boost::beast::http::response<boost::beast::http::string_body>;

// Requests whose headers (request line included) pass this are answered 400 and closed.
inline constexpr int kMaxRequestHeaderBytes = 8192;
// Longer paths + query strings are answered 414: no route takes more.
inline constexpr std::size_t kMaxUriBytes = 2048;

// The origin-form ("/path?query") of a request target. A client talking to a proxy sends the
// absolute form ("http://host:port/path?query"), which RFC 9112 3.2.2 says a server must accept:
// scheme and authority are dropped. Anything else comes back as it is.
[[nodiscard]] std::string origin_form(std::string_view target);

// The answer to a whole request (may take a scrape's time: call it off the I/O thread).
// `buffers` are the calling thread's; the body is copied out of them.
[[nodiscard]] WireResponse answer(const WireRequest& request, Monitor& monitor, BasicAuth& auth,
                                  ScrapeBuffers& buffers);

// A plain-text error for a request that could not be read (malformed, too large); the connection
// is closed after it, since where the next request would start is unknown.
[[nodiscard]] WireResponse refusal(int status, std::string_view why);

}  // namespace wsm::exporter
