// Every enumerated label set exports from construction, and WEBSOCKET_METRICS_CATEGORIES switches
// whole categories off: their families are never registered and their calls record nothing, while
// every other family holds exactly what it holds with every category on.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "facade_calls.hpp"
#include "segment_totals.hpp"
#include "test_support.hpp"
#include "wsm/websocket_metrics.hpp"

namespace wsm::ws {
namespace {

using namespace std::chrono_literals;
using test::Totals;

Registry open_registry(const std::string& name) {
  RegistryOptions options;
  options.limits.max_writers = 8;
  options.limits.max_connections = 16;
  auto reg = Registry::open(name, options);
  if (!reg) ADD_FAILURE() << reg.error().message();
  return reg ? *reg : facade_calls::disabled_registry();
}


// name{labels} -> the value of every series of the segment (counter, gauge or histogram count).
std::map<std::string, double> values_of(const Totals& t) {
  std::map<std::string, double> out;
  for (const auto& [key, p] : t.points()) {
    out[key] = p.family->type == shm::MetricType::counter   ? static_cast<double>(p.counter)
               : p.family->type == shm::MetricType::gauge ? p.gauge
                                                          : static_cast<double>(p.count);
  }
  return out;
}

std::set<std::string> families_of(const Totals& t) {
  std::set<std::string> out;
  for (const auto& [key, p] : t.points()) out.insert(p.family->name);
  return out;
}

TEST(Preregistration, EveryEnumeratedLabelSetExportsZeroFromConstruction) {
  test::SegmentGuard guard(test::unique_segment_name("prereg"));
  Registry registry = open_registry(guard.name());
  Metrics m(registry, {.process_role = "worker"});
  const Totals t(*registry.segment());

  for (const MetricSpec& s : kMetrics) {
    const bool recorded = s.source == Source::recorded;
    EXPECT_EQ(families_of(t).count(std::string(s.name)), recorded ? 1u : 0u) << s.name;
    EXPECT_TRUE(t.recorded(s.name).empty()) << s.name << " holds a value before any call";
  }
  // Whole products of the enumerations, with the derived labels following their enum.
  std::map<std::string, std::size_t> series;
  for (const auto& [key, p] : t.points()) ++series[p.family->name];
  EXPECT_EQ(series["websocket_messages_sent_total"], kValueCount<MessageType> * kValueCount<Priority> *
                                                         kValueCount<Role> * kValueCount<TargetType>);
  EXPECT_EQ(series["websocket_failed_messages_total"],
            kValueCount<MessageType> * kValueCount<FailureReason> * kValueCount<Role>);
  EXPECT_EQ(series["websocket_disconnections_total"], kValueCount<Role> * kValueCount<DisconnectReason>);
  EXPECT_EQ(series["websocket_connections_active"], kValueCount<Role>) << "one anonymous series per role";
  EXPECT_EQ(series["websocket_compression_ratio_percent"], kValueCount<MessageType>);
  EXPECT_EQ(series["websocket_thread_pool_utilization_percent"], 1u);
  t.at("websocket_disconnections_total", {{"role", "admin"}, {"reason", "slow_consumer"}, {"status", "abnormal"}});
  t.at("websocket_messages_received_total",
       {{"message_type", "vitals"}, {"source_type", "device"}, {"role", "patient_monitor"}});
  t.at("websocket_transferred_bytes_total", {{"direction", "in"}, {"protocol", "ws+deflate"}, {"role", "doctor"}});
  t.at("websocket_thread_pool_utilization_percent", {{"pool_type", "io"}, {"role", "worker"}});

  // A second Metrics on the same segment (another worker) registers nothing new.
  Metrics again(registry, {.process_role = "worker"});
  EXPECT_EQ(values_of(Totals(*registry.segment())).size(), values_of(t).size());
}

TEST(Preregistration, OffRegistersOnFirstUseOnly) {
  test::SegmentGuard guard(test::unique_segment_name("prereg-off"));
  Registry registry = open_registry(guard.name());
  Metrics m(registry, {.process_role = "worker", .preregister = false});
  m.failure(MessageType::ack, FailureReason::write_error, Role::admin);
  const Totals t(*registry.segment());
  EXPECT_EQ(values_of(t), (std::map<std::string, double>{
                              {"websocket_failed_messages_total{failure_reason=\"write_error\","
                               "message_type=\"ack\",role=\"admin\"}", 1}}));
}

// name{labels} -> value after exercise() and exercise_local() with these categories, on a segment
// of its own. (A process opens at most kMaxSegments segments; ctest runs each test in a process of
// its own.)
std::map<std::string, double> exercised(Categories categories) {
  test::SegmentGuard guard(test::unique_segment_name("cat"));
  Registry registry = open_registry(guard.name());
  Metrics m(registry, {.categories = categories});
  EXPECT_EQ(m.categories(), categories);
  const Connection open = facade_calls::exercise(m);
  facade_calls::exercise_local(m);
  const Totals t(*registry.segment());
  if (categories == Categories::all()) {
    for (const MetricSpec& s : kMetrics) {
      if (s.source == Source::recorded) {
        EXPECT_FALSE(t.recorded(s.name).empty()) << s.name << ": exercise() misses it";
      }
    }
  }
  return values_of(t);
}

class CategoryOff : public ::testing::TestWithParam<Category> {};

// Its families absent, every other series exactly as with every category on.
TEST_P(CategoryOff, LeavesOutItsFamiliesAndNothingElse) {
  const Category off = GetParam();
  const std::map<std::string, double> all_on = exercised(Categories::all());
  std::map<std::string, double> expected;
  for (const auto& [key, value] : all_on) {
    const std::string family = key.substr(0, key.find('{'));
    bool in_off = false;
    for (const MetricSpec& s : kMetrics) in_off = in_off || (s.name == family && category_of(s.id) == off);
    if (!in_off) expected[key] = value;
  }
  EXPECT_LT(expected.size(), all_on.size()) << "the category has recorded families";
  EXPECT_EQ(exercised(Categories::all().disable(off)), expected);
}

INSTANTIATE_TEST_SUITE_P(EachCategory, CategoryOff,
                         ::testing::Values(Category::connection, Category::message, Category::performance,
                                           Category::resource, Category::health, Category::subscription),
                         [](const auto& info) { return std::string(label_value(info.param)); });

// health off: a connection's record keeps no score, so the exporter has none to derive from.
TEST(Categories, HealthOffKeepsNoScoreInTheConnectionRecord) {
  test::SegmentGuard guard(test::unique_segment_name("cat-health"));
  Registry registry = open_registry(guard.name());
  Metrics m(registry, {.categories = Categories::all().disable(Category::health), .preregister = false});
  Connection c = m.connection_opened(Role::admin, "", "", Compression::none);
  m.health(c, 10);
  ASSERT_NE(c.record(), nullptr);
  EXPECT_NE(c.record()->health_score, 10.0);
}

TEST(Categories, TheVariableIsReadAndABadValueRecordsEverything) {
  test::SegmentGuard guard(test::unique_segment_name("cat-env"));
  Registry registry = open_registry(guard.name());
  ::setenv(kCategoriesVariable, "message, subscription", 1);
  Metrics some(registry, {.preregister = false});
  EXPECT_EQ(some.categories(), Categories::none().enable(Category::message).enable(Category::subscription));
  ::setenv(kCategoriesVariable, "messages", 1);
  testing::internal::CaptureStderr();
  Metrics all(registry, {.preregister = false});
  const std::string err = testing::internal::GetCapturedStderr();
  ::unsetenv(kCategoriesVariable);
  EXPECT_EQ(all.categories(), Categories::all());
  EXPECT_NE(err.find("'messages' is not a category"), std::string::npos) << err;
  EXPECT_NE(err.find("recording every category"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST(Categories, ParseListsExclusionsAndErrors) {
  const auto parsed = [](std::string_view text) {
    auto r = parse_categories(text);
    EXPECT_TRUE(r) << text << ": " << r.error().message();
    return r ? r->text() : "";
  };
  EXPECT_EQ(parsed(""), "all");
  EXPECT_EQ(parsed("all"), "all");
  EXPECT_EQ(parsed(" connection , health "), "connection,health");
  EXPECT_EQ(parsed("-resource"), "connection,message,performance,health,subscription");
  EXPECT_EQ(parsed("all,-resource,-subscription"), "connection,message,performance,health");
  EXPECT_EQ(parsed("health,-health"), "none");
  EXPECT_EQ(parsed("message,,"), "message");
  for (std::string_view bad : {"conection", "-all", "-", "message,cpu", "ALL"}) {
    const auto r = parse_categories(bad);
    ASSERT_FALSE(r) << bad;
    const std::string msg = r.error().message();
    EXPECT_NE(msg.find(kCategoriesVariable), std::string::npos) << msg;
    EXPECT_NE(msg.find("subscription"), std::string::npos) << "lists the allowed names: " << msg;
  }
}

}  // namespace
}  // namespace wsm::ws
