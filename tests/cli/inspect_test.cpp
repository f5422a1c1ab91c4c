// wsm inspect against a writer whose series the test knows: header, usage, writers, families,
// label cardinality and the warnings near a cap, in JSON and in text.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_fixture.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::test {
namespace {

using nlohmann::json;

const json* family(const json& doc, const std::string& name) {
  for (const json& f : doc["families"]) {
    if (f["name"] == name) return &f;
  }
  return nullptr;
}

const json* label(const json& fam, const std::string& name) {
  for (const json& l : fam["labels"]) {
    if (l["name"] == name) return &l;
  }
  return nullptr;
}

bool any_warning(const json& doc, const std::string& needle) {
  for (const json& w : doc["warnings"]) {
    if (w.get<std::string>().find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(Inspect, ShowsWhatTheWriterRecorded) {
  const int paths = 4, cap = 10, max_series = 20;
  auto w = start_writer(unique_segment_name("inspect"), "hold",
                        {"--paths", std::to_string(paths), "--series-cap", std::to_string(cap),
                         "--max-series", std::to_string(max_series), "--role", "inspect-role"});
  const std::string name = w->segment.name();
  auto r = wsm({"inspect", "--json", name});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = json::parse(r.out);

  auto segment = shm::Segment::open(name, {shm::Access::read_only});
  ASSERT_TRUE(segment) << segment.error().message();
  char generation[17];
  std::snprintf(generation, sizeof generation, "%016llx",
                static_cast<unsigned long long>(segment->header().generation));
  EXPECT_EQ(doc["segment"], name);
  EXPECT_EQ(doc["layout_version"], shm::kLayoutVersion);
  EXPECT_EQ(doc["generation"], generation);
  EXPECT_EQ(doc["total_bytes"], segment->size());
  EXPECT_EQ(doc["creator_pid"], w->child.pid());
  EXPECT_EQ(doc["limits"]["max_series"], max_series);
  EXPECT_EQ(doc["limits"]["series_cap_per_family"], cap);

  // Series per family as recorded; each family also has its overflow series, made on first use.
  const int recorded = 2 + 2 + 1 + 2 * paths;
  EXPECT_EQ(doc["usage"]["series"]["used"], recorded + 4);
  EXPECT_EQ(doc["usage"]["series"]["capacity"], max_series);
  EXPECT_EQ(doc["usage"]["families"]["used"], 4);

  const json* sent = family(doc, "websocket_messages_sent_total");
  const json* active = family(doc, "websocket_connections_active");
  const json* latency = family(doc, "websocket_message_latency_seconds");
  const json* requests = family(doc, "test_requests_total");
  ASSERT_TRUE(sent && active && latency && requests) << doc.dump(2);
  EXPECT_EQ((*sent)["type"], "counter");
  EXPECT_EQ((*sent)["series"], 2);
  EXPECT_EQ((*active)["type"], "gauge");
  EXPECT_EQ((*active)["mode"], "sum");
  EXPECT_EQ((*active)["series"], 2);
  EXPECT_EQ((*latency)["type"], "histogram");
  EXPECT_EQ((*latency)["unit"], "seconds");
  EXPECT_EQ((*latency)["series"], 1);
  EXPECT_EQ((*requests)["series"], 2 * paths);
  EXPECT_EQ((*requests)["cap"], cap);
  EXPECT_FALSE((*requests)["overflowed"].get<bool>());

  // Label cardinality: path has `paths` values, each in 2 series; method 2 values in `paths` each.
  const json* path = label(*requests, "path");
  const json* method = label(*requests, "method");
  ASSERT_TRUE(path && method);
  EXPECT_EQ((*path)["values"], paths);
  EXPECT_EQ((*method)["values"], 2);
  EXPECT_EQ((*requests)["labels"][0]["name"], "path") << "highest cardinality first";
  ASSERT_EQ((*method)["top"].size(), 2u);
  EXPECT_EQ((*method)["top"][0]["series"], paths);
  EXPECT_EQ((*path)["top"].size(), 3u) << "top 3 values only";
  EXPECT_EQ((*path)["top"][0]["series"], 2);

  // The writer's slots: its main thread (tid == pid) and its process gauge cells (tid 0).
  int thread_slots = 0, gauge_slots = 0;
  for (const json& s : doc["writers"]) {
    EXPECT_EQ(s["pid"], w->child.pid());
    EXPECT_EQ(s["role"], "inspect-role");
    EXPECT_EQ(s["state"], "active");
    EXPECT_TRUE(s["alive"].get<bool>());
    EXPECT_GT(s["cells_bytes"].get<std::uint64_t>(), 0u);
    EXPECT_FALSE(s["heartbeat_age_seconds"].is_null());
    (s["tid"] == 0 ? gauge_slots : thread_slots)++;
    if (s["tid"] != 0) {
      EXPECT_EQ(s["tid"], w->child.pid());
    }
  }
  EXPECT_EQ(thread_slots, 1);
  EXPECT_EQ(gauge_slots, 1);
  EXPECT_EQ(doc["usage"]["writers"]["used"], 2);

  // 8 of 10 series is 80%: warned; 2 of 10 is not. 17 of 20 series slots is 85%: warned.
  EXPECT_TRUE(any_warning(doc, "family test_requests_total: 8 series of its cap 10")) << doc["warnings"];
  EXPECT_FALSE(any_warning(doc, "websocket_messages_sent_total")) << doc["warnings"];
  EXPECT_TRUE(any_warning(doc, "segment series 85.0% used (17 of 20)")) << doc["warnings"];
  EXPECT_FALSE(any_warning(doc, "segment writers")) << doc["warnings"];

  // The text form shows the same.
  auto text = wsm({"inspect", name});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("generation " + std::string(generation)), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("labels: path " + std::to_string(paths) + " values"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(std::to_string(w->child.pid())), std::string::npos);
  EXPECT_NE(text.out.find("inspect-role"), std::string::npos);
  EXPECT_NE(text.out.find("WARNINGS (2)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("! family test_requests_total"), std::string::npos) << text.out;
}

TEST(Inspect, ReportsAnOverflowedFamily) {
  const int paths = 6, cap = 10;  // 12 label sets for a cap of 10: 2 go to the overflow series
  auto w = start_writer(unique_segment_name("inspect-overflow"), "hold",
                        {"--paths", std::to_string(paths), "--series-cap", std::to_string(cap)});
  auto r = wsm({"inspect", "--json", w->segment.name()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = json::parse(r.out);
  const json* requests = family(doc, "test_requests_total");
  ASSERT_TRUE(requests);
  EXPECT_EQ((*requests)["series"], cap);
  EXPECT_TRUE((*requests)["overflowed"].get<bool>());
  EXPECT_EQ(doc["drops"]["series_dropped"], 2 * paths - cap);
  EXPECT_TRUE(any_warning(doc, "family test_requests_total: its overflow series holds data"));
  EXPECT_TRUE(any_warning(doc, std::to_string(2 * paths - cap) + " label sets went to an overflow series"));
}

TEST(Inspect, FailsClearlyOnAMissingSegment) {
  auto r = wsm({"inspect", unique_segment_name("inspect-missing")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no such segment"), std::string::npos) << r.err;
  EXPECT_EQ(wsm({"inspect"}).exit_code, 2);
}

}  // namespace
}  // namespace wsm::test
