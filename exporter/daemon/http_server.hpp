// The HTTP layer: an asynchronous Boost.Beast server on --listen (plain, or TLS with --web-config).
// One I/O thread holds every connection (http_session.hpp); a few worker threads answer requests
// (http_exchange.cpp -> routes.cpp), so a slow scrape never stalls the sockets and an idle or slow
// client costs a socket, not a thread. Connections are capped at kMaxConnections.
#pragma once

#include <memory>
#include <string>

#include "wsm/exporter/monitor.hpp"
#include "wsm/exporter/web_config.hpp"
#include "wsm/shm/error.hpp"

namespace wsm::exporter {

struct HttpOptions {
  std::string listen;        // IPV4:PORT
  WebConfig web;             // TLS files and users; empty: plain HTTP, no authentication
  int timeout_seconds = 10;  // a request's headers must arrive whole within this time
};

// Open connections beyond this are closed as soon as they are accepted (the process's open-file
// limit is raised to fit them): enough for every collector and browser, and a flood of idle
// connections reaches it without taking a thread or starving the ones already served.
inline constexpr int kMaxConnections = 4096;
// Threads that answer requests: scrapes run here, in parallel up to this count.
inline constexpr int kWorkerThreads = 4;

class HttpServer {
 public:
  // Starts listening; fails with a message naming the address (e.g. port in use) or the file.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> start(const HttpOptions& options, Monitor& monitor);
  ~HttpServer();  // stops: closes every connection, waits for answers being computed
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

 private:
  struct State;
  explicit HttpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace wsm::exporter
