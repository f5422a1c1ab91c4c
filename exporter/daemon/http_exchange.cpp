#include "http_exchange.hpp"

#include <boost/beast/http/field.hpp>
#include <cctype>
#include <civetweb.h>

#include "wsm/exporter/routes.hpp"

namespace wsm::exporter {

namespace http = boost::beast::http;

namespace {

// Boost 1.74's Beast has its own string_view.
std::string_view std_view(boost::beast::string_view s) { return {s.data(), s.size()}; }

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// The path as routes compare it: percent-escapes decoded, as the query's values are (api.cpp).
std::string decoded_path(std::string_view path) {
  std::string out(path.size() + 1, '\0');
  const int n = mg_url_decode(path.data(), static_cast<int>(path.size()), out.data(), static_cast<int>(out.size()), 0);
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

WireResponse plain(int status, std::string body, unsigned version) {
  WireResponse r{static_cast<http::status>(status), version};
  r.set(http::field::content_type, "text/plain; charset=utf-8");
  r.set(http::field::cache_control, "no-store");
  r.body() = std::move(body);
  r.prepare_payload();
  return r;
}

}  // namespace

std::string origin_form(std::string_view target) {
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (!starts_with_nocase(target, scheme)) continue;
    const std::string_view rest = target.substr(scheme.size());
    const std::size_t end = rest.find_first_of("/?#");
    if (end == std::string_view::npos) return "/";
    std::string out = rest[end] == '/' ? "" : "/";  // "http://host?q" is "/?q"
    out.append(rest.substr(end));
    return out;
  }
  return std::string(target);
}

WireResponse refusal(int status, std::string_view why) {
  WireResponse r = plain(status, std::to_string(status) + " " + std::string(why) + "\n", 11);
  r.keep_alive(false);
  return r;
}

namespace {

// The body as the wire response's string: moved out of whichever string holds it whole (a JSON
// answer's own, or the leased scrape buffers), copied only when it is a view of something else
// (the live page's files).
std::string take_body(Response& response, ScrapeBuffers& buffers) {
  for (std::string* holder : {&response.owned, &buffers.text, &buffers.gzip}) {
    if (!holder->empty() && response.body.data() == holder->data() && response.body.size() == holder->size()) {
      return std::move(*holder);
    }
  }
  return std::string(response.body);
}

}  // namespace

WireResponse answer(const WireRequest& request, Monitor& monitor, BasicAuth& auth, ScrapeBuffers& buffers) {
  const unsigned version = request.version();
  if (auth.enabled() && !auth.allows(std_view(request[http::field::authorization]))) {
    WireResponse r = plain(401, "401 Unauthorized\n", version);
    r.set(http::field::www_authenticate, R"(Basic realm="wsm-exporter", charset="UTF-8")");
    r.keep_alive(request.keep_alive());
    return r;
  }
  const std::string target = origin_form(std_view(request.target()));
  if (target.size() > kMaxUriBytes) {
    WireResponse r = plain(414, "414 URI Too Long\n", version);
    r.keep_alive(request.keep_alive());
    return r;
  }
  const std::size_t question = target.find('?');
  const std::string path = decoded_path(std::string_view(target).substr(0, question));
  const std::string_view query =
      question == std::string::npos ? std::string_view{} : std::string_view(target).substr(question + 1);
  const bool head = request.method() == http::verb::head;
  const Request routed{std_view(request.method_string()), path, query, std_view(request[http::field::accept]),
                       std_view(request[http::field::accept_encoding])};
  Response routed_response = handle(monitor, routed, buffers);

  WireResponse r{static_cast<http::status>(routed_response.status), version};
  r.set(http::field::content_type, routed_response.content_type);
  r.set(http::field::cache_control, "no-store");
  if (routed_response.gzipped) r.set(http::field::content_encoding, "gzip");
  if (routed_response.negotiated) r.set(http::field::vary, "Accept, Accept-Encoding");
  if (routed_response.status == 405) r.set(http::field::allow, "GET, HEAD");
  // HEAD: the length GET would have, and no body.
  r.content_length(routed_response.body.size());
  if (!head) r.body() = take_body(routed_response, buffers);
  r.keep_alive(request.keep_alive());
  return r;
}

}  // namespace wsm::exporter
