// Cardinality warnings and hardening of wsm-exporter, with real processes: writers that fill a
// family and the catalog, the exporter's log, `wsm inspect`, a segment of another owner and of a
// group, TLS and basic authentication checked with curl, request limits over raw sockets, and
// hostile label values checked by promtool.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exporter_test_support.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm::test;
namespace fs = std::filesystem;

constexpr uid_t kNobody = 65534;   // Debian's nobody
constexpr gid_t kNogroup = 65534;  // and nogroup

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// wsm-exporter whose stderr goes to a file (the log the tests read). `prefix` runs it through
// another program first (setpriv, to run it as another user).
class LoggedExporter {
 public:
  LoggedExporter(const std::string& segment, const std::string& log, std::vector<std::string> args = {},
                 std::vector<std::string> prefix = {})
      : port_(free_port()), child_([&] {
          std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" 2>\"$WSM_TEST_LOG\"", "sh"};
          argv.insert(argv.end(), prefix.begin(), prefix.end());
          argv.insert(argv.end(), {bin("wsm-exporter"), "--segment", segment, "--listen",
                                   "127.0.0.1:" + std::to_string(port_), "--interval", "1"});
          argv.insert(argv.end(), args.begin(), args.end());
          return Child::spawn(argv, {"WSM_TEST_LOG=" + log});
        }()) {}
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::optional<HttpResponse> get(const std::string& path) const { return http_get(port_, path); }
  // The /healthz document once the exporter answers it with `status`.
  [[nodiscard]] nlohmann::json healthz(int status) const {
    std::optional<HttpResponse> r;
    EXPECT_TRUE(wait_until([&] {
      r = get("/healthz");
      return r && r->status == status;
    })) << "no /healthz " << status << (r ? ": " + r->body : "");
    return r ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
  }
  // Waits until the exporter has run `n` more intervals than now.
  void wait_intervals(int n) const {
    const auto now = healthz(200)["intervals"].get<int>();
    EXPECT_TRUE(wait_until([&] {
      const auto r = get("/healthz");
      return r && r->status == 200 && nlohmann::json::parse(r->body)["intervals"].get<int>() >= now + n;
    }));
  }
  std::optional<int> stop() {
    child_.signal(SIGTERM);
    return child_.wait();
  }

 private:
  int port_;
  Child child_;
};

std::vector<std::string> counters(const std::string& family, int from, int to) {
  std::vector<std::string> ops;
  for (int i = from; i < to; ++i) ops.insert(ops.end(), {"counter", family, "path=p" + std::to_string(i), "1"});
  return ops;
}

TEST(CapacityWarnings, LoggedOnceAtEightyAndOnceAtTheCapAndShownByInspect) {
  const std::string seg = unique_segment_name("cap-warn");
  SegmentGuard guard(seg);
  TempDir dir("wsm-hardening");
  // The creator's limits win: a family cap of 10 and a catalog of 16 entries.
  wsm::shm::Limits limits;
  limits.series_cap_per_family = 10;
  limits.max_series = 16;
  ASSERT_TRUE(wsm::shm::Segment::create(seg, {limits}).has_value());
  const std::string log = dir.file("exporter.log");
  LoggedExporter exporter(seg, log, {"--resource-monitoring", "off"});
  (void)exporter.healthz(200);

  const std::string near = "warning: family t_capped_total nears its series cap: 8 of 10 (80.0%)";
  const std::string reached = "warning: family t_capped_total reached its series cap: 10 of 10 (100.0%)";
  run_writer(seg, counters("t_capped_total", 0, 7));  // 70%: quiet
  exporter.wait_intervals(2);
  EXPECT_EQ(slurp(log).find("warning:"), std::string::npos) << slurp(log);
  run_writer(seg, counters("t_capped_total", 7, 8));
  EXPECT_TRUE(wait_until([&] { return slurp(log).find(near) != std::string::npos; })) << slurp(log);
  run_writer(seg, counters("t_capped_total", 8, 10));
  EXPECT_TRUE(wait_until([&] { return slurp(log).find(reached) != std::string::npos; })) << slurp(log);
  run_writer(seg, counters("t_capped_total", 10, 14));  // past the cap: into the overflow series
  // A second family fills the catalog: t_capped's 10 + its overflow, t_other's overflow + 1 = 13
  // of 16 entries (81%), then 16 of 16.
  run_writer(seg, counters("t_other_total", 0, 1));
  EXPECT_TRUE(wait_until([&] { return slurp(log).find("warning: segment series nears full: 13 of 16") != std::string::npos; }))
      << slurp(log);
  run_writer(seg, counters("t_other_total", 1, 6));
  EXPECT_TRUE(wait_until([&] { return slurp(log).find("warning: segment series is full: 16 of 16") != std::string::npos; }))
      << slurp(log);
  exporter.wait_intervals(3);

  const std::string text = slurp(log);
  EXPECT_EQ(occurrences(text, "family t_capped_total nears"), 1u) << text;
  EXPECT_EQ(occurrences(text, "family t_capped_total reached"), 1u) << text;
  EXPECT_EQ(occurrences(text, "segment series nears full"), 1u) << text;
  EXPECT_EQ(occurrences(text, "segment series is full"), 1u) << text;
  EXPECT_NE(text.find("new label sets now go to its overflow series {wsm_overflow=\"true\"}"), std::string::npos);
  EXPECT_NE(text.find("raise Limits::max_series"), std::string::npos) << text;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(line.starts_with("wsm-exporter: ")) << "one line per warning: " << line;
  }
  const std::string metrics = http_get(exporter.port(), "/metrics")->body;
  EXPECT_NE(metrics.find("t_capped_total{wsm_overflow=\"true\"} 4"), std::string::npos) << metrics;
  EXPECT_EQ(exporter.stop(), 0);

  const auto inspect = run({bin("wsm"), "inspect", seg, "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const auto doc = nlohmann::json::parse(inspect.out);
  std::string warnings;
  for (const auto& w : doc["warnings"]) warnings += w.get<std::string>() + "\n";
  EXPECT_NE(warnings.find("family t_capped_total: 10 series of its cap 10 (100.0%)"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("family t_capped_total: its overflow series holds data"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("segment series 100.0% used (16 of 16)"), std::string::npos) << warnings;
  EXPECT_EQ(doc["usage"]["connections"]["capacity"], limits.max_connections);
  EXPECT_EQ(doc["usage"]["fullest_writer_arena_bytes"]["capacity"], limits.arena_bytes);  // the writers were reaped
  const auto inspect_text = run({bin("wsm"), "inspect", seg});
  EXPECT_NE(inspect_text.out.find("! family t_capped_total: 10 series of its cap 10"), std::string::npos)
      << inspect_text.out;
}

TEST(SegmentOwner, AnotherUsersSegmentIsRefusedUnlessAllowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the segment file to another user";
  const std::string seg = unique_segment_name("foreign");
  SegmentGuard guard(seg);
  TempDir dir("wsm-hardening");
  run_writer(seg, {"counter", "t_foreign_total", "-", "7"});
  ASSERT_EQ(::chown(("/dev/shm/wsm." + seg).c_str(), kNobody, kNogroup), 0);

  const std::string log = dir.file("refused.log");
  LoggedExporter refusing(seg, log);
  const auto health = refusing.healthz(503);
  EXPECT_NE(health["error"].get<std::string>().find("is owned by nobody, uid 65534"), std::string::npos) << health;
  EXPECT_TRUE(wait_until([&] { return slurp(log).find("--allow-foreign-segment") != std::string::npos; }));
  EXPECT_EQ(refusing.get("/metrics")->body.find("t_foreign_total"), std::string::npos);
  EXPECT_EQ(refusing.stop(), 0);
  EXPECT_EQ(occurrences(slurp(log), "is owned by"), 1u) << "logged once while waiting: " << slurp(log);

  LoggedExporter allowed(seg, dir.file("allowed.log"), {"--allow-foreign-segment"});
  (void)allowed.healthz(200);
  EXPECT_NE(allowed.get("/metrics")->body.find("t_foreign_total 7"), std::string::npos);
  EXPECT_EQ(allowed.stop(), 0);
}

TEST(SegmentGroup, AGroupSegmentIs0640AndReadableByAnExporterOfThatGroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the exporter as another user";
  const std::string seg = unique_segment_name("group");
  SegmentGuard guard(seg);
  TempDir dir("wsm-hardening");
  Child writer = [&] {
    // WSM_SEGMENT_GROUP reaches the writer through its environment.
    ::setenv("WSM_SEGMENT_GROUP", "nogroup", 1);
    Child c = start_writer(seg, {"counter", "t_grouped_total", "-", "11"});
    ::unsetenv("WSM_SEGMENT_GROUP");
    return c;
  }();
  struct stat st{};
  ASSERT_EQ(::stat(("/dev/shm/wsm." + seg).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(st.st_gid, kNogroup);
  EXPECT_EQ(st.st_uid, 0u);
  const auto inspect = nlohmann::json::parse(run({bin("wsm"), "inspect", seg, "--json"}).out);
  EXPECT_EQ(inspect["file"]["mode"], "0640");
  EXPECT_EQ(inspect["file"]["gid"], kNogroup);
  EXPECT_EQ(inspect["warnings"].dump().find("file mode"), std::string::npos) << inspect["warnings"];

  // An exporter running as nobody:nogroup reads it (read-only: it cannot fold dead writers).
  const std::vector<std::string> as_nobody = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  LoggedExporter exporter(seg, dir.file("nobody.log"), {"--allow-foreign-segment", "--resource-monitoring", "off"},
                          as_nobody);
  const auto health = exporter.healthz(200);
  EXPECT_EQ(health["reaping"], false) << health;
  EXPECT_NE(exporter.get("/metrics")->body.find("t_grouped_total 11"), std::string::npos);
  EXPECT_EQ(exporter.stop(), 0);

  // Without the group the segment is 0600 and nobody cannot open it at all.
  const std::string private_seg = unique_segment_name("private");
  SegmentGuard private_guard(private_seg);
  run_writer(private_seg, {"counter", "t_private_total", "-", "1"});
  ASSERT_EQ(::stat(("/dev/shm/wsm." + private_seg).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  LoggedExporter denied(private_seg, dir.file("denied.log"), {"--allow-foreign-segment"}, as_nobody);
  const auto refused = denied.healthz(503);
  EXPECT_NE(refused["error"].get<std::string>().find("ermission"), std::string::npos) << refused;
  EXPECT_EQ(denied.stop(), 0);

  // A segment every user may read is a finding of wsm inspect.
  ASSERT_EQ(::chmod(("/dev/shm/wsm." + private_seg).c_str(), 0644), 0);
  const auto open_to_all = run({bin("wsm"), "inspect", private_seg});
  EXPECT_NE(open_to_all.out.find("! segment file mode 0644 lets every user of the host access it"), std::string::npos)
      << open_to_all.out;
}

TEST(SegmentGroup, AnUnknownGroupIsAClearErrorAndCreatesNothing) {
  const std::string seg = unique_segment_name("nogroup");
  SegmentGuard guard(seg);
  auto reg = wsm::Registry::open(seg, {.group = "wsm-no-such-group", .enabled = true});
  ASSERT_FALSE(reg);
  EXPECT_NE(reg.error().message().find("segment group 'wsm-no-such-group'"), std::string::npos) << reg.error().message();
  EXPECT_FALSE(fs::exists("/dev/shm/wsm." + seg));
}

// curl's HTTP status for a request (0 when no HTTP answer came) and its exit code.
std::pair<int, int> curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = run(argv);
  return {r.out.empty() ? 0 : std::stoi(r.out), r.exit_code};
}

TEST(WebConfig, TlsAndBasicAuthWithCurl) {
  const std::string seg = unique_segment_name("web");
  SegmentGuard guard(seg);
  TempDir dir("wsm-hardening");
  run_writer(seg, {"counter", "t_web_total", "-", "3"});
  const auto cert = run({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                         "-keyout", dir.file("server.key"), "-out", dir.file("server.crt")});
  ASSERT_EQ(cert.exit_code, 0) << cert.err;
  const auto hash = run({"/usr/bin/openssl", "passwd", "-6", "s3cret pass"});
  ASSERT_EQ(hash.exit_code, 0) << hash.err;
  // Relative paths: from the file's directory.
  std::ofstream(dir.file("web.yml")) << "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                     << "basic_auth_users:\n  prometheus: '" << hash.out.substr(0, hash.out.find('\n'))
                                     << "'\n";
  LoggedExporter exporter(seg, dir.file("exporter.log"), {"--web-config", dir.file("web.yml")});
  const std::string url = "https://127.0.0.1:" + std::to_string(exporter.port());
  const std::string ca = dir.file("server.crt");
  ASSERT_TRUE(wait_until([&] { return curl({"--cacert", ca, url + "/healthz"}).first == 401; }))
      << slurp(dir.file("exporter.log"));

  EXPECT_EQ(curl({"--cacert", ca, url + "/metrics"}).first, 401);
  EXPECT_EQ(curl({"--cacert", ca, "-u", "prometheus:wrong", url + "/metrics"}).first, 401);
  EXPECT_EQ(curl({"--cacert", ca, "-u", "someone:s3cret pass", url + "/metrics"}).first, 401);
  EXPECT_EQ(curl({"--cacert", ca, "-u", "prometheus:s3cret pass", url + "/metrics"}).first, 200);
  const auto body = run({"/usr/bin/curl", "-s", "-m", "10", "--cacert", ca, "-u", "prometheus:s3cret pass", url + "/metrics"});
  EXPECT_NE(body.out.find("t_web_total 3"), std::string::npos) << body.out;
  // The certificate is checked (no --cacert: unknown issuer), and plain HTTP gets no answer.
  EXPECT_NE(curl({"-u", "prometheus:s3cret pass", url + "/metrics"}).second, 0);
  const auto plain = curl({"-u", "prometheus:s3cret pass", "http://127.0.0.1:" + std::to_string(exporter.port()) + "/metrics"});
  EXPECT_EQ(plain.first, 0);
  EXPECT_NE(plain.second, 0);
  EXPECT_EQ(exporter.stop(), 0);
}

TEST(WebConfig, BadFilesExitTwoNamingTheKey) {
  TempDir dir("wsm-hardening");
  const auto start = [&](const std::string& yaml) {
    std::ofstream(dir.file("bad.yml")) << yaml;
    return run({bin("wsm-exporter"), "--segment", "x", "--listen", "127.0.0.1:" + std::to_string(free_port()),
                "--web-config", dir.file("bad.yml")});
  };
  const auto weak = start("basic_auth_users:\n  alice: $1$abc$0123456789012345678901\n");
  EXPECT_EQ(weak.exit_code, 2);
  EXPECT_NE(weak.err.find("basic_auth_users.alice: expected a bcrypt"), std::string::npos) << weak.err;
  const auto unknown = start("tls_server_config:\n  client_ca_file: ca.crt\n");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("tls_server_config.client_ca_file: not supported"), std::string::npos) << unknown.err;
  const auto half = start("tls_server_config:\n  cert_file: /dev/null\n");
  EXPECT_EQ(half.exit_code, 2);
  EXPECT_NE(half.err.find("expected both cert_file and key_file"), std::string::npos) << half.err;
  const auto missing = start("tls_server_config:\n  cert_file: nowhere.crt\n  key_file: nowhere.key\n");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos) << missing.err;
}

// A raw TCP connection to 127.0.0.1:port.
int connect_to(int port) {
  const int fd = connect_loopback(port);
  if (fd < 0) return -1;
  timeval tv{0, 200'000};  // each recv waits at most 200 ms
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::string first_line_of_answer(int fd) {
  std::string got;
  char buf[512];
  for (int i = 0; i < 50 && got.find("\r\n") == std::string::npos; ++i) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
  }
  return got.substr(0, got.find("\r\n"));
}

TEST(RequestLimits, OversizeRequestsLongUrisAndSlowClientsAreCutOff) {
  const std::string seg = unique_segment_name("limits");
  SegmentGuard guard(seg);
  TempDir dir("wsm-hardening");
  run_writer(seg, {"counter", "t_limits_total", "-", "1"});
  LoggedExporter exporter(seg, dir.file("exporter.log"), {"--http-timeout", "1"});
  (void)exporter.healthz(200);

  // Headers larger than the server takes: refused, not read on.
  int fd = connect_to(exporter.port());
  ASSERT_GE(fd, 0);
  const std::string huge = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(20000, 'a') + "\r\n\r\n";
  (void)::send(fd, huge.data(), huge.size(), MSG_NOSIGNAL);
  EXPECT_EQ(first_line_of_answer(fd).substr(0, 12), "HTTP/1.1 400");
  ::close(fd);

  // A URI no route takes: 414.
  const auto long_uri = exporter.get("/api/v1/percentiles?metric=" + std::string(3000, 'm'));
  ASSERT_TRUE(long_uri);
  EXPECT_EQ(long_uri->status, 414);

  // Slowloris: a request that never completes, one byte every 200 ms, is cut off by the 1 s
  // request timeout long before the 50 bytes (10 s) are sent.
  fd = connect_to(exporter.port());
  ASSERT_GE(fd, 0);
  const std::string start = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  ASSERT_EQ(::send(fd, start.data(), start.size(), MSG_NOSIGNAL), static_cast<ssize_t>(start.size()));
  bool cut_off = false;
  for (int i = 0; i < 50 && !cut_off; ++i) {
    char c = 'z';
    if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) cut_off = true;
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n >= 0) cut_off = true;  // an error answer or the close
  }
  ::close(fd);
  EXPECT_TRUE(cut_off);
  // And the exporter still serves.
  EXPECT_EQ(exporter.get("/metrics")->status, 200);
  EXPECT_EQ(exporter.stop(), 0);
}

TEST(HostileLabels, ValuesFromAWriterProcessPassPromtoolThroughTheExporter) {
  const std::string seg = unique_segment_name("hostile");
  SegmentGuard guard(seg);
  const std::vector<std::string> hostile = {"quote\"in", "back\\slash", "new\nline", "bad \xff\xfe utf8",
                                            "\\\"}", "tab\tand # hash", "le\"1\"} 5\n# EOF"};
  std::vector<std::string> ops;
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    ops.insert(ops.end(), {"counter", "t_hostile_total", "i=" + std::to_string(i) + ",value=" + hostile[i],
                           std::to_string(i + 1)});
  }
  run_writer(seg, ops);
  LoggedExporter exporter(seg, "/dev/null", {"--resource-monitoring", "off"});
  (void)exporter.healthz(200);
  const std::string text = exporter.get("/metrics")->body;
  const auto check = promtool_check(text);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << text;
  const auto parsed = parse_exposition(text);
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors.front();
  EXPECT_EQ(sample(parsed, "t_hostile_total{i=\"0\",value=\"quote\\\"in\"}"), 1);
  EXPECT_EQ(sample(parsed, "t_hostile_total{i=\"1\",value=\"back\\\\slash\"}"), 2);
  EXPECT_EQ(sample(parsed, "t_hostile_total{i=\"2\",value=\"new\\nline\"}"), 3);
  EXPECT_EQ(sample(parsed, "t_hostile_total{i=\"3\",value=\"bad \xef\xbf\xbd\xef\xbf\xbd utf8\"}"), 4) << text;
  EXPECT_EQ(sample(parsed, "t_hostile_total{i=\"6\",value=\"le\\\"1\\\"} 5\\n# EOF\"}"), 7) << text;
  const auto om = http_get(exporter.port(), "/metrics", {{"Accept", "application/openmetrics-text; version=1.0.0"}});
  ASSERT_TRUE(om);
  EXPECT_EQ(occurrences(om->body, "\n# EOF"), 1u) << om->body;  // escaped in values, never a line
  EXPECT_EQ(exporter.stop(), 0);
}

}  // namespace
