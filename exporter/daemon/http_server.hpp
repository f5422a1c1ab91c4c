// The HTTP layer: civetweb on --listen, every request handed to routes.cpp's handle().
#pragma once

#include <memory>
#include <string>

#include "monitor.hpp"
#include "wsm/shm/error.hpp"

struct mg_connection;
struct mg_context;

namespace wsm::exporter {

class HttpServer {
 public:
  // Starts listening; fails with a message naming the address (e.g. port in use).
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> start(const std::string& listen, Monitor& monitor);
  ~HttpServer();  // stops: waits for requests in flight
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

 private:
  explicit HttpServer(Monitor& monitor) : monitor_(monitor) {}
  static int on_request(mg_connection* conn, void* self);
  static int on_log(const mg_connection* conn, const char* message);

  Monitor& monitor_;
  mg_context* context_ = nullptr;
};

}  // namespace wsm::exporter
