#include "http_server.hpp"

#include <civetweb.h>
#include <cstdio>
#include <mutex>

#include "routes.hpp"

namespace wsm::exporter {

namespace {

std::string& startup_error() {
  static std::string e;
  return e;
}

}  // namespace

int HttpServer::on_log(const struct mg_connection*, const char* message) {
  static std::mutex m;
  std::lock_guard lock(m);
  if (startup_error().empty()) startup_error() = message;
  std::fprintf(stderr, "wsm-exporter: http: %s\n", message);
  return 1;
}

int HttpServer::on_request(struct mg_connection* conn, void* self) {
  auto& server = *static_cast<HttpServer*>(self);
  const mg_request_info* info = mg_get_request_info(conn);
  const char* accept = mg_get_header(conn, "Accept");
  const char* encoding = mg_get_header(conn, "Accept-Encoding");
  const Request request{info->request_method != nullptr ? info->request_method : "",
                        info->local_uri != nullptr ? info->local_uri : "",
                        info->query_string != nullptr ? info->query_string : "",
                        accept != nullptr ? accept : "", encoding != nullptr ? encoding : ""};
  // civetweb runs a fixed pool of threads: each keeps its buffers, reused scrape after scrape.
  thread_local ScrapeBuffers buffers;
  const Response r = handle(server.monitor_, request, buffers);

  mg_response_header_start(conn, r.status);
  mg_response_header_add(conn, "Content-Type", r.content_type.c_str(), -1);
  mg_response_header_add(conn, "Content-Length", std::to_string(r.body.size()).c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  if (r.gzipped) mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
  if (r.negotiated) mg_response_header_add(conn, "Vary", "Accept, Accept-Encoding", -1);
  if (r.status == 405) mg_response_header_add(conn, "Allow", "GET, HEAD", -1);
  mg_response_header_send(conn);
  if (request.method != "HEAD") mg_write(conn, r.body.data(), r.body.size());
  return r.status;
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& listen, Monitor& monitor) {
  std::unique_ptr<HttpServer> server(new HttpServer(monitor));
  mg_init_library(0);
  // Two request threads: Prometheus scrapes one at a time, and each thread keeps scrape buffers
  // the size of the exposition (see on_request), so more threads would mostly hold memory.
  const char* options[] = {"listening_ports", listen.c_str(),
                           "num_threads", "2",
                           "request_timeout_ms", "10000",
                           "enable_keep_alive", "yes",
                           nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = &HttpServer::on_log;
  startup_error().clear();
  server->context_ = mg_start(&callbacks, nullptr, options);
  if (server->context_ == nullptr) {
    return fail(Errc::system, "cannot listen on " + listen + ": " +
                                  (startup_error().empty() ? "civetweb failed to start" : startup_error()));
  }
  mg_set_request_handler(server->context_, "/", &HttpServer::on_request, server.get());
  return server;
}

HttpServer::~HttpServer() {
  if (context_ != nullptr) mg_stop(context_);
}

}  // namespace wsm::exporter
