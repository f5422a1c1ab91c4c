// The HTTP layer: civetweb on --listen, every request handed to routes.cpp's handle(), behind
// the limits every request meets (headers within max size and time, URI length) and the
// optional TLS and basic authentication of --web-config.
#pragma once

#include <memory>
#include <string>

#include "monitor.hpp"
#include "web_config.hpp"
#include "wsm/shm/error.hpp"

struct mg_connection;
struct mg_context;

namespace wsm::exporter {

struct HttpOptions {
  std::string listen;        // IPV4:PORT
  WebConfig web;             // TLS files and users; empty: plain HTTP, no authentication
  int timeout_seconds = 10;  // a request's headers must arrive whole within this time
};

// Requests whose headers (request line included) pass this are answered 400 and closed.
inline constexpr int kMaxRequestHeaderBytes = 8192;
// Longer paths + query strings are answered 414: no route takes more.
inline constexpr std::size_t kMaxUriBytes = 2048;

class HttpServer {
 public:
  // Starts listening; fails with a message naming the address (e.g. port in use) or the file.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> start(const HttpOptions& options, Monitor& monitor);
  ~HttpServer();  // stops: waits for requests in flight
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

 private:
  HttpServer(Monitor& monitor, const WebConfig& web) : monitor_(monitor), auth_(web.users) {}
  static int on_request(mg_connection* conn, void* self);
  static int on_log(const mg_connection* conn, const char* message);

  Monitor& monitor_;
  BasicAuth auth_;
  mg_context* context_ = nullptr;
};

}  // namespace wsm::exporter
