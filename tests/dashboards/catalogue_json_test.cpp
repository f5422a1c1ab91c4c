// wsm-alerts catalogue: every family of the C++ catalogue with its type and labels, each enum label
// with its enum's values, and no label left free-form that an enum fills: a label added to the
// catalogue without its values in catalogue_json.cpp would leave the views' and the lints' value
// checks silently off for it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "wsm/alerts/catalogue_json.hpp"
#include "wsm/websocket_catalogue.hpp"

namespace {

using namespace wsm::ws;

const nlohmann::ordered_json& catalogue() {
  static const auto j = nlohmann::ordered_json::parse(wsm::alerts::catalogue_json(Thresholds{}));
  return j;
}

TEST(CatalogueJson, EveryFamilyWithItsTypeAndLabelsInOrder) {
  const auto& families = catalogue()["families"];
  ASSERT_EQ(families.size(), kMetrics.size());
  for (const MetricSpec& m : kMetrics) {
    const auto& f = families.at(std::string(m.name));
    EXPECT_EQ(f["type"], wsm::shm::metric_type_name(m.type)) << m.name;
    ASSERT_EQ(f["labels"].size(), m.label_count) << m.name;
    std::size_t i = 0;
    for (const auto& item : f["labels"].items()) EXPECT_EQ(item.key(), m.labels[i++]) << m.name;
  }
}

TEST(CatalogueJson, EnumLabelsCarryTheirEnumsValues) {
  const auto& families = catalogue()["families"];
  const auto& role = families["websocket_messages_sent_total"]["labels"]["role"];
  ASSERT_EQ(role.size(), kValueCount<Role>);
  for (std::size_t i = 0; i < kValueCount<Role>; ++i) EXPECT_EQ(role[i], LabelValues<Role>::names[i]);
  const auto& types = families["websocket_message_latency_seconds"]["labels"]["message_type"];
  ASSERT_EQ(types.size(), kValueCount<MessageType>);
  EXPECT_EQ(types[0], label_value(MessageType::ecg_data));
  EXPECT_EQ(families["websocket_disconnections_total"]["labels"]["status"],
            nlohmann::ordered_json::array({"normal", "abnormal"}));
  EXPECT_EQ(families["websocket_connections_total"]["labels"]["status"],
            nlohmann::ordered_json::array({"success", "rejected", "failed"}));
}

TEST(CatalogueJson, OnlyIdentifiersAndProcessLabelsAreFreeForm) {
  // Identifiers, the exporter's /proc labels and the writer process role of resource gauges.
  const std::set<std::string> free_form = {"user_id", "patient_id", "connection_id", "process_type",
                                           "memory_type", "type", "resource role"};
  for (const auto& [name, f] : catalogue()["families"].items()) {
    for (const auto& [label, values] : f["labels"].items()) {
      const std::string key = label == "role" && f["category"] == "resource" ? "resource role" : label;
      EXPECT_EQ(values.is_null(), free_form.contains(key)) << name << " " << label;
    }
  }
}

TEST(CatalogueJson, ThresholdsAreTheOnesGiven) {
  Thresholds t;
  t.latency_seconds = 0.25;
  const auto j = nlohmann::json::parse(wsm::alerts::catalogue_json(t));
  EXPECT_EQ(j["thresholds"]["latency_seconds"], 0.25);
  EXPECT_EQ(j["thresholds"]["health_score"], Thresholds{}.health_score);
}

}  // namespace
