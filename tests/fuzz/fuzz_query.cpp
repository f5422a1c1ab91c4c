// The HTTP API's query strings: parse_query and the endpoints that take one must never crash or
// throw, whatever the bytes, and what parse_query decodes must survive a round trip: re-encoding
// every decoded name and value and parsing again gives the same pairs. The endpoints run through
// handle() (what the HTTP server calls) against a Monitor attached to a real segment with a histogram,
// so /api/v1/percentiles also matches label filters; every answer must be JSON with a status
// the API documents.
//
// Input: byte 0 picks the path (percentiles, snapshots, anything else: both), the rest is the
// query string.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include <wsm/writer.hpp>

#include "wsm/exporter/api.hpp"
#include "wsm/exporter/monitor.hpp"
#include "wsm/exporter/routes.hpp"
#include "url_encode.hpp"
#include "wsm/shm/segment.hpp"

namespace {

[[noreturn]] void fail(const std::string& what, std::string_view query) {
  std::fprintf(stderr, "fuzz_query: %s (query '%.*s')\n", what.c_str(), static_cast<int>(query.size()),
               query.data());
  std::abort();
}

// A segment with a labelled histogram, made once per fuzzing process and removed at exit.
struct Fixture {
  std::string segment = "fuzz-query-" + std::to_string(::getpid());
  std::unique_ptr<wsm::exporter::Monitor> monitor;
  Fixture() {
    (void)wsm::shm::Segment::remove(segment);
    wsm::RegistryOptions options;
    options.limits.max_writers = 4;
    options.limits.max_series = 64;
    options.limits.series_cap_per_family = 64;
    options.limits.arena_bytes = 64 * 1024;
    options.limits.string_bytes = 64 * 1024;
    options.limits.retired_bytes = 64 * 1024;
    options.limits.max_connections = 0;
    auto reg = wsm::Registry::open(segment, options);
    if (!reg) fail("cannot create the segment: " + reg.error().message(), "");
    for (const char* role : {"doctor", "nurse", "caf\xc3\xa9"}) {
      const auto h = reg->histogram("fuzz_latency_seconds", {{"role", role}, {"type", "ecg"}});
      for (std::uint64_t v = 1; v < 100000000; v *= 3) h.record(v);
    }
    reg->counter("fuzz_events_total").inc(5);
    wsm::exporter::Settings settings;
    settings.segment = segment;
    settings.resource_monitoring = false;
    monitor = std::make_unique<wsm::exporter::Monitor>(settings, wsm::exposition::IdLabelPolicy());
    monitor->tick();
    if (!monitor->attached()) fail("the monitor did not attach", "");
    std::atexit([] { (void)wsm::shm::Segment::remove("fuzz-query-" + std::to_string(::getpid())); });
  }
};

void check_endpoint(wsm::exporter::Monitor& monitor, std::string_view path, std::string_view query) {
  wsm::exporter::ScrapeBuffers buffers;
  const wsm::exporter::Request request{"GET", path, query, "", ""};
  const wsm::exporter::Response r = wsm::exporter::handle(monitor, request, buffers);
  if (r.status != 200 && r.status != 400 && r.status != 404) fail("status " + std::to_string(r.status), query);
  const auto body = nlohmann::json::parse(r.body, nullptr, false);
  if (body.is_discarded()) fail("the answer is not JSON: " + std::string(r.body), query);
  if (r.status != 200 && !body.contains("error")) fail("an error without a message", query);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture fixture;
  if (size == 0) return 0;
  const std::string_view query(reinterpret_cast<const char*>(data + 1), size - 1);

  if (const auto parsed = wsm::exporter::parse_query(query)) {
    std::string again;
    for (const auto& [name, value] : *parsed) {
      if (!again.empty()) again += '&';
      again += wsm::test::url_encode(name) + "=" + wsm::test::url_encode(value);
    }
    const auto reparsed = wsm::exporter::parse_query(again);
    if (!reparsed || *reparsed != *parsed) fail("decoded pairs do not survive a round trip", query);
    // Without escapes a query decodes to its own pieces.
    if (query.find_first_of("%+") == std::string_view::npos) {
      std::size_t pieces = 0;
      for (std::size_t start = 0; start <= query.size();) {
        std::size_t amp = query.find('&', start);
        if (amp == std::string_view::npos) amp = query.size();
        if (amp > start) {
          const std::string_view item = query.substr(start, amp - start);
          const std::size_t eq = item.find('=');
          if (pieces >= parsed->size() || (*parsed)[pieces].first != item.substr(0, eq) ||
              (*parsed)[pieces].second != (eq == std::string_view::npos ? "" : item.substr(eq + 1))) {
            fail("an unescaped query decoded to something else", query);
          }
          ++pieces;
        }
        start = amp + 1;
      }
      if (pieces != parsed->size()) fail("an unescaped query decoded to another number of pairs", query);
    }
  }

  const std::uint8_t which = data[0] % 3;
  if (which != 1) check_endpoint(*fixture.monitor, "/api/v1/percentiles", query);
  if (which != 0) check_endpoint(*fixture.monitor, "/api/v1/snapshots", query);
  return 0;
}
