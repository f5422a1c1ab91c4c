#include "http_server.hpp"

#include <civetweb.h>
#include <cstdio>
#include <cstring>
#include <dlfcn.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include "routes.hpp"

namespace wsm::exporter {

namespace {

std::string& startup_error() {
  static std::string e;
  return e;
}

void send_plain(mg_connection* conn, int status, const char* body, const char* extra_name = nullptr,
                const char* extra_value = nullptr) {
  mg_response_header_start(conn, status);
  mg_response_header_add(conn, "Content-Type", "text/plain; charset=utf-8", -1);
  mg_response_header_add(conn, "Content-Length", std::to_string(std::strlen(body)).c_str(), -1);
  if (extra_name != nullptr) mg_response_header_add(conn, extra_name, extra_value, -1);
  mg_response_header_send(conn);
  mg_write(conn, body, std::strlen(body));
}

// civetweb reads the certificate and the key from one PEM file. The two files of the web config
// are joined in an anonymous memory file (memfd), so the key is never copied to a disk; civetweb
// opens it by its /proc/self/fd path. Returns the descriptor, -1 with `error` set on failure.
int joined_pem(const WebConfig& web, std::string& error) {
  std::ostringstream pem;
  for (const std::string& file : {web.cert_file, web.key_file}) {
    std::ifstream in(file);
    if (!in) {
      error = "cannot read '" + file + "'";
      return -1;
    }
    pem << in.rdbuf() << '\n';
  }
  const std::string bytes = pem.str();
  const int fd = ::memfd_create("wsm-exporter-tls", MFD_CLOEXEC);
  if (fd < 0 || ::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    error = std::string("memfd: ") + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// Loads the OpenSSL 3 shim for civetweb (exporter/openssl3_compat) from beside the executable.
// Where libssl still has the 1.1 names the shim fails to load and is not needed.
void load_openssl3_compat() {
#ifdef WSM_OPENSSL3_COMPAT
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return;
  const auto shim = (exe.parent_path() / WSM_OPENSSL3_COMPAT).lexically_normal();
  (void)::dlopen(shim.c_str(), RTLD_NOW | RTLD_GLOBAL);  // kept for the process's life
#endif
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
  if (server.auth_.enabled()) {
    const char* authorization = mg_get_header(conn, "Authorization");
    if (!server.auth_.allows(authorization != nullptr ? authorization : "")) {
      send_plain(conn, 401, "401 Unauthorized\n", "WWW-Authenticate", "Basic realm=\"wsm-exporter\", charset=\"UTF-8\"");
      return 401;
    }
  }
  const std::size_t uri_bytes = (info->local_uri != nullptr ? std::strlen(info->local_uri) : 0) +
                                (info->query_string != nullptr ? std::strlen(info->query_string) : 0);
  if (uri_bytes > kMaxUriBytes) {
    send_plain(conn, 414, "414 URI Too Long\n");
    return 414;
  }
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

Result<std::unique_ptr<HttpServer>> HttpServer::start(const HttpOptions& options, Monitor& monitor) {
  std::unique_ptr<HttpServer> server(new HttpServer(monitor, options.web));
  const bool tls = options.web.tls();
  // With TLS, civetweb loads libssl now (dlopen); 0 keeps a plain server free of it.
  if (tls) load_openssl3_compat();
  if (tls && mg_init_library(MG_FEATURES_TLS) == 0) {
    return fail(Errc::system, "--web-config: TLS is not available (civetweb could not load libssl.so; "
                              "install libssl-dev)");
  }
  if (!tls) mg_init_library(0);
  std::string pem_path;
  int pem_fd = -1;
  if (tls) {
    std::string error;
    pem_fd = joined_pem(options.web, error);
    if (pem_fd < 0) return fail(Errc::system, "--web-config: " + error);
    pem_path = "/proc/self/fd/" + std::to_string(pem_fd);
  }
  // An "s" after the port: that port speaks only TLS.
  const std::string ports = options.listen + (tls ? "s" : "");
  const std::string timeout_ms = std::to_string(options.timeout_seconds * 1000);
  const std::string max_request = std::to_string(kMaxRequestHeaderBytes);
  // Eight request threads: a keep-alive connection holds its thread, and a browser on the live page
  // keeps several open, so two threads made Prometheus wait behind it. Scrape buffers (see
  // on_request) grow only in threads that served /metrics, which Prometheus's one keep-alive
  // connection mostly keeps to one thread. request_timeout_ms bounds how long one client (a
  // stalled or slowloris one) holds a thread.
  std::vector<const char*> opts = {"listening_ports", ports.c_str(),
                                   "num_threads", "8",
                                   "request_timeout_ms", timeout_ms.c_str(),
                                   "max_request_size", max_request.c_str(),
                                   "enable_keep_alive", "yes"};
  if (tls) {
    opts.insert(opts.end(), {"ssl_certificate", pem_path.c_str(),
                             // the certificate file may carry the chain after the leaf
                             "ssl_certificate_chain", options.web.cert_file.c_str(),
                             "ssl_protocol_version", "4"});  // TLS 1.2 and newer
  }
  opts.push_back(nullptr);
  mg_callbacks callbacks{};
  callbacks.log_message = &HttpServer::on_log;
  startup_error().clear();
  server->context_ = mg_start(&callbacks, nullptr, opts.data());
  if (pem_fd >= 0) ::close(pem_fd);  // read by mg_start
  if (server->context_ == nullptr) {
    return fail(Errc::system, "cannot listen on " + options.listen + (tls ? " with TLS" : "") + ": " +
                                  (startup_error().empty() ? "civetweb failed to start" : startup_error()));
  }
  mg_set_request_handler(server->context_, "/", &HttpServer::on_request, server.get());
  return server;
}

HttpServer::~HttpServer() {
  if (context_ != nullptr) mg_stop(context_);
}

}  // namespace wsm::exporter
