// /api/v1/connections, /api/v1/connections/{id} and websocket_health_score in /metrics, served by
// wsm-exporter as a child process from the connection tables of writer processes that hold
// connections open through wsm::ws::Metrics (exporter_test_writer's `connection` op).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>

#include "wsm/exporter/derived_rules.hpp"
#include "exporter_test_support.hpp"
#include "wsm/exposition/id_labels.hpp"
#include "wsm/shm/connection_table.hpp"
#include "wsm/websocket_catalogue.hpp"

namespace {

using namespace wsm::test;
using nlohmann::json;

// connection ROLE USER PATIENT HEALTH IN OUT
const std::vector<std::string> kWardA = {
    "connection", "doctor", "u1", "p7", "40.5", "3", "4",
    "connection", "nurse", "u2", "-", "80", "0", "1",
    "connection", "doctor", "u3", "p8", "60.25", "1", "0",
};
const std::vector<std::string> kWardB = {"connection", "admin", "-", "-", "20", "2", "2"};

json get_json(const Exporter& exporter, const std::string& path, int status) {
  const auto r = exporter.get(path);
  EXPECT_TRUE(r) << path;
  if (!r) return json();
  EXPECT_EQ(r->status, status) << path << ": " << r->body;
  EXPECT_EQ(r->headers.at("content-type"), "application/json") << path;
  return json::parse(r->body, nullptr, false);
}

// The connection tables as the segment itself lists them.
std::vector<wsm::shm::ConnectionInfo> table_of(const std::string& segment) {
  auto s = wsm::shm::Segment::open(segment, {wsm::shm::Access::read_only});
  EXPECT_TRUE(s);
  return s ? wsm::shm::list_connections(*s) : std::vector<wsm::shm::ConnectionInfo>{};
}

const wsm::shm::ConnectionInfo* with_user(const std::vector<wsm::shm::ConnectionInfo>& table, const std::string& user) {
  for (const auto& c : table) {
    if (c.user_id == user) return &c;
  }
  return nullptr;
}

// Every field of an API item equals the record's (identifiers aside).
void expect_item_is(const json& item, const wsm::shm::ConnectionInfo& c) {
  EXPECT_EQ(item["role"], c.role);
  EXPECT_EQ(item["writer_pid"], c.pid);
  EXPECT_EQ(item["messages"]["in"], c.messages_in);
  EXPECT_EQ(item["messages"]["out"], c.messages_out);
  EXPECT_EQ(item["bytes"]["in"], c.bytes_in);
  EXPECT_EQ(item["bytes"]["out"], c.bytes_out);
  EXPECT_EQ(item["health_score"], c.health_score);
  EXPECT_EQ(item["opened_at"], static_cast<double>(c.opened_unix_ns) / 1e9);
  EXPECT_GE(item["age_seconds"].get<double>(), 0.0);
  EXPECT_TRUE(item["last_heartbeat_at"].is_null());
}

// The id wsm-exporter lists under --id-labels drop, built here from the record and the segment's
// header rather than by shm::format_record_id: "<record>.<tenant>.<low 32 bits of generation>".
std::string record_id_of(const std::string& segment, const wsm::shm::ConnectionInfo& c) {
  auto s = wsm::shm::Segment::open(segment, {wsm::shm::Access::read_only});
  EXPECT_TRUE(s);
  if (!s) return "";
  char generation[9];
  std::snprintf(generation, sizeof generation, "%08x", static_cast<unsigned>(s->header().generation & 0xffffffffu));
  return std::to_string(c.index) + "." + std::to_string(c.tenant) + "." + generation;
}

// Every connection the list shows, asked for by the id it shows, is answered with that connection:
// the same id and the record's counts. `id_of` gives the id a table record should be listed with.
void expect_round_trip(const Exporter& exporter, const json& list, const std::vector<wsm::shm::ConnectionInfo>& table,
                       const std::function<std::string(const wsm::shm::ConnectionInfo&)>& id_of) {
  ASSERT_EQ(list["connections"].size(), table.size()) << list.dump();
  for (const json& item : list["connections"]) {
    const std::string id = item["id"].get<std::string>();
    const auto c = std::find_if(table.begin(), table.end(), [&](const auto& t) { return id_of(t) == id; });
    ASSERT_NE(c, table.end()) << item.dump();
    const json one = get_json(exporter, "/api/v1/connections/" + id, 200);
    EXPECT_EQ(one["id_labels"], list["id_labels"]);
    EXPECT_EQ(one["connection"]["id"], id);
    expect_item_is(one["connection"], *c);
    EXPECT_EQ(one["connection"].contains("user_id"), list["id_labels"] != "drop" && !c->user_id.empty());
  }
}

// websocket_health_score samples of a text exposition: labels -> value.
std::map<std::string, double> health_samples(const std::string& text) {
  std::map<std::string, double> out;
  for (const auto& [series, value] : parse_exposition(text).samples) {
    if (series.starts_with("websocket_health_score{")) out[series.substr(22)] = std::stod(value);
  }
  return out;
}

TEST(Connections, ExporterRulesMatchTheCatalogue) {
  const auto& rule = wsm::exporter::derived_rules().health;
  const auto& spec = wsm::ws::spec(wsm::ws::Metric::health_score);
  EXPECT_EQ(rule.worst_connections, wsm::ws::kHealthScoreWorstConnections);
  EXPECT_EQ(rule.output, spec.name);
  EXPECT_EQ(rule.help, spec.help);
}

TEST(Connections, ListedWithTheTablesCountsFilteredSortedAndLimited) {
  const std::string seg = unique_segment_name("conn-list");
  SegmentGuard guard(seg);
  Child a = start_writer(seg, kWardA, "ward-a");
  Child b = start_writer(seg, kWardB, "ward-b");
  Exporter exporter(seg, {"--id-labels", "raw"});
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  const auto table = table_of(seg);
  ASSERT_EQ(table.size(), 4u);

  const json all = get_json(exporter, "/api/v1/connections", 200);
  EXPECT_EQ(all["total"], 4);
  EXPECT_EQ(all["sort"], "health");
  EXPECT_EQ(all["id_labels"], "raw");
  ASSERT_EQ(all["connections"].size(), 4u);
  std::vector<double> scores;
  for (const json& item : all["connections"]) {
    scores.push_back(item["health_score"].get<double>());
    const auto c = std::find_if(table.begin(), table.end(), [&](const auto& r) {
      return wsm::shm::format_connection_id(r.id) == item["id"];
    });
    ASSERT_NE(c, table.end()) << item.dump();
    expect_item_is(item, *c);
    EXPECT_TRUE(item["id"].get<std::string>().starts_with(std::to_string(c->pid) + "-"));
    EXPECT_EQ(item.value("user_id", ""), c->user_id);
    EXPECT_EQ(item.value("patient_id", ""), c->patient_id);
    EXPECT_EQ(item.contains("patient_id"), !c->patient_id.empty());  // left out when not recorded
  }
  EXPECT_EQ(scores, (std::vector<double>{20, 40.5, 60.25, 80}));  // worst first
  EXPECT_EQ(all["connections"][0]["writer_pid"], b.pid());
  EXPECT_EQ(all["connections"][0]["messages"]["in"], 2);

  const json doctors = get_json(exporter, "/api/v1/connections?role=doctor&limit=1", 200);
  EXPECT_EQ(doctors["total"], 2);
  ASSERT_EQ(doctors["connections"].size(), 1u);
  EXPECT_EQ(doctors["connections"][0]["user_id"], "u1");
  EXPECT_EQ(doctors["connections"][0]["patient_id"], "p7");
  EXPECT_EQ(get_json(exporter, "/api/v1/connections?role=janitor", 200)["total"], 0);

  const json by_id = get_json(exporter, "/api/v1/connections?sort=id", 200);
  std::vector<std::uint64_t> raw_ids;
  for (const json& item : by_id["connections"]) raw_ids.push_back(*wsm::shm::parse_connection_id(item["id"].get<std::string>()));
  EXPECT_TRUE(std::is_sorted(raw_ids.begin(), raw_ids.end()));
  EXPECT_EQ(raw_ids.size(), 4u);
  EXPECT_EQ(get_json(exporter, "/api/v1/connections?sort=opened", 200)["connections"].size(), 4u);

  for (const std::string q : {"limit=0", "limit=100001", "limit=ten", "limit=-1", "sort=best", "role=a&role=b",
                              "colour=red", "role=%zz"}) {
    const json e = get_json(exporter, "/api/v1/connections?" + q, 400);
    EXPECT_TRUE(e.contains("error")) << q;
  }

  // One connection, by the id the list shows.
  const wsm::shm::ConnectionInfo* u3 = with_user(table, "u3");
  ASSERT_NE(u3, nullptr);
  const std::string u3_id = wsm::shm::format_connection_id(u3->id);
  const json one = get_json(exporter, "/api/v1/connections/" + u3_id, 200);
  EXPECT_EQ(one["connection"]["id"], u3_id);
  EXPECT_EQ(one["connection"]["user_id"], "u3");
  expect_item_is(one["connection"], *u3);
  for (const std::string bad : {"abc", "12-", "-3", "1-2-3", "%20", ""}) {
    EXPECT_TRUE(get_json(exporter, "/api/v1/connections/" + bad, 400).contains("error")) << bad;
  }
  const std::string unknown = std::to_string(a.pid()) + "-999";
  EXPECT_NE(get_json(exporter, "/api/v1/connections/" + unknown, 404)["error"].get<std::string>().find(unknown),
            std::string::npos);

  // A writer that dies takes its connections out of the list.
  const std::string b_id = all["connections"][0]["id"];
  b.signal(SIGKILL);
  EXPECT_EQ(b.wait(), 128 + SIGKILL);
  EXPECT_EQ(get_json(exporter, "/api/v1/connections", 200)["total"], 3);
  get_json(exporter, "/api/v1/connections/" + b_id, 404);
  EXPECT_EQ(exporter.stop(), 0);
}

// drop: no identifier anywhere, connections named by record; hash: the same pseudonyms as
// /metrics; raw: as recorded. Under each, every id the list shows finds its connection.
TEST(Connections, IdentifiersFollowTheIdLabelPolicy) {
  const std::string seg = unique_segment_name("conn-ids");
  SegmentGuard guard(seg);
  Child a = start_writer(seg, kWardA, "ward-a");
  const auto table = table_of(seg);
  ASSERT_EQ(table.size(), 3u);
  const wsm::shm::ConnectionInfo* u1 = with_user(table, "u1");
  ASSERT_NE(u1, nullptr);
  const std::string u1_id = wsm::shm::format_connection_id(u1->id);

  {
    Exporter exporter(seg);  // drop is the default
    ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
    const auto r = exporter.get("/api/v1/connections");
    ASSERT_TRUE(r && r->status == 200);
    const json all = json::parse(r->body);
    EXPECT_EQ(all["id_labels"], "drop");
    ASSERT_EQ(all["connections"].size(), 3u);
    for (const json& item : all["connections"]) {
      EXPECT_FALSE(item.contains("user_id") || item.contains("patient_id")) << item.dump();
      // The id names the record, not the connection: <record>.<tenant>.<segment>.
      const auto c = std::find_if(table.begin(), table.end(),
                                  [&](const auto& t) { return record_id_of(seg, t) == item["id"]; });
      ASSERT_NE(c, table.end()) << item.dump();
    }
    for (const char* id : {"u1", "u2", "u3", "p7", "p8"}) EXPECT_EQ(r->body.find(id), std::string::npos) << id;
    for (const auto& c : table) {
      EXPECT_EQ(r->body.find(wsm::shm::format_connection_id(c.id)), std::string::npos) << "connection id shown";
    }
    // Every listed id finds its connection, answered without identifiers.
    expect_round_trip(exporter, all, table, [&](const auto& c) { return record_id_of(seg, c); });
    const std::string u1_record = record_id_of(seg, *u1);
    const auto one = exporter.get("/api/v1/connections/" + u1_record);
    ASSERT_TRUE(one && one->status == 200);
    for (const std::string& hidden : {std::string("u1"), std::string("p7"), u1_id}) {
      EXPECT_EQ(one->body.find(hidden), std::string::npos) << hidden << " in " << one->body;
    }
    // The raw connection id is not an id under drop, nor is anything but the canonical form.
    for (const std::string& bad : {u1_id, std::string("abc"), std::string("1.2"), "0" + u1_record,
                                  u1_record + "0", u1_record.substr(0, u1_record.size() - 1),
                                  std::string("1.1.ABCDEF01"), std::string("-1.1.abcdef01"), std::string("%20")}) {
      const json e = get_json(exporter, "/api/v1/connections/" + bad, 400);
      EXPECT_NE(e.value("error", "").find("<record>.<tenant>.<segment>"), std::string::npos) << bad << ": " << e;
    }
    // Well-formed but no live connection's: another tenant of the record, another segment, no record.
    const auto rec = *wsm::shm::parse_record_id(u1_record);
    for (const wsm::shm::RecordId& other : {wsm::shm::RecordId{rec.index, rec.tenant + 1, rec.generation},
                                             wsm::shm::RecordId{rec.index, rec.tenant, rec.generation ^ 1u},
                                             wsm::shm::RecordId{4000000000u, rec.tenant, rec.generation}}) {
      const std::string unknown = wsm::shm::format_record_id(other);
      const json e = get_json(exporter, "/api/v1/connections/" + unknown, 404);
      EXPECT_NE(e.value("error", "").find(unknown), std::string::npos) << e;
      EXPECT_NE(e.value("error", "").find("<record>.<tenant>.<segment>"), std::string::npos) << e;
    }
    // `wsm inspect --connections` shows the same id beside the connection id.
    const auto inspect = run({bin("wsm"), "inspect", "--connections", "--json", seg});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    std::set<std::string> listed, inspected;
    for (const json& item : all["connections"]) listed.insert(item["id"].get<std::string>());
    const json inspected_doc = json::parse(inspect.out);
    for (const json& c : inspected_doc["connections"]) {
      inspected.insert(c["record_id"].get<std::string>());
      const auto t = std::find_if(table.begin(), table.end(),
                                  [&](const auto& x) { return wsm::shm::format_connection_id(x.id) == c["id"]; });
      ASSERT_NE(t, table.end()) << c.dump();
      EXPECT_EQ(c["record_id"], record_id_of(seg, *t));
    }
    EXPECT_EQ(listed, inspected);
    // /metrics: each role's lowest score, no connection_id.
    const std::string text = exporter.metrics();
    EXPECT_EQ(health_samples(text),
              (std::map<std::string, double>{{"{role=\"doctor\"}", 40.5}, {"{role=\"nurse\"}", 80}}));
    EXPECT_EQ(promtool_problems(text), std::vector<std::string>{}) << text;
  }
  {
    const auto dir = std::filesystem::temp_directory_path() / unique_segment_name("conn-key");
    const std::string key_path = (dir / "id.key").string();
    const auto key = wsm::exposition::load_or_create_hash_key(key_path);
    ASSERT_TRUE(key) << key.error().message();
    const wsm::exposition::IdLabelPolicy policy(wsm::exposition::IdLabelMode::hash, *key);
    Exporter exporter(seg, {"--id-labels", "hash", "--id-hash-key", key_path});
    ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
    const json all = get_json(exporter, "/api/v1/connections", 200);
    EXPECT_EQ(all["id_labels"], "hash");
    const auto health = health_samples(exporter.metrics());
    ASSERT_EQ(all["connections"].size(), 3u);
    for (const json& item : all["connections"]) {
      const auto c = std::find_if(table.begin(), table.end(), [&](const auto& r) {
        return policy.pseudonym(wsm::shm::format_connection_id(r.id)) == item["id"];
      });
      ASSERT_NE(c, table.end()) << item.dump();
      EXPECT_EQ(item["user_id"], policy.pseudonym(c->user_id));
      EXPECT_EQ(item.contains("patient_id"), !c->patient_id.empty());
      if (!c->patient_id.empty()) {
        EXPECT_EQ(item["patient_id"], policy.pseudonym(c->patient_id));
      }
      // The same pseudonym labels the connection's health score in /metrics.
      const std::string labels = "{connection_id=\"" + item["id"].get<std::string>() + "\",role=\"" + c->role + "\"}";
      ASSERT_TRUE(health.contains(labels)) << labels;
      EXPECT_EQ(health.at(labels), c->health_score);
    }
    expect_round_trip(exporter, all, table,
                      [&](const auto& c) { return policy.pseudonym(wsm::shm::format_connection_id(c.id)); });
    const std::string u1_pseudonym = policy.pseudonym(u1_id);
    const json one = get_json(exporter, "/api/v1/connections/" + u1_pseudonym, 200);
    EXPECT_EQ(one["connection"]["id"], u1_pseudonym);
    EXPECT_EQ(one["connection"]["patient_id"], policy.pseudonym("p7"));
    // The pseudonym is the id under hash: the raw form, or hex that is no live connection's, is not.
    EXPECT_NE(get_json(exporter, "/api/v1/connections/" + u1_id, 400)["error"].get<std::string>().find("pseudonym"),
              std::string::npos);
    EXPECT_NE(get_json(exporter, "/api/v1/connections/0123456789abcdef", 404)["error"].get<std::string>().find("pseudonym"),
              std::string::npos);
    EXPECT_EQ(exporter.stop(), 0);
    std::filesystem::remove_all(dir);
  }
  {
    Exporter exporter(seg, {"--id-labels", "raw"});
    ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
    expect_round_trip(exporter, get_json(exporter, "/api/v1/connections", 200), table,
                      [](const auto& c) { return wsm::shm::format_connection_id(c.id); });
    // Under raw the record form is not an id.
    get_json(exporter, "/api/v1/connections/" + record_id_of(seg, *u1), 400);
    const json one = get_json(exporter, "/api/v1/connections/" + u1_id, 200);
    EXPECT_EQ(one["connection"]["id"], u1_id);
    EXPECT_EQ(one["connection"]["user_id"], "u1");
    EXPECT_EQ(one["connection"]["patient_id"], "p7");
    EXPECT_EQ(health_samples(exporter.metrics()).at("{connection_id=\"" + u1_id + "\",role=\"doctor\"}"), 40.5);
  }
}

// Under drop, an id names one connection for good: when its writer dies and the exporter frees its
// records, a later connection that takes the same record gets a new id, and the old one is 404.
TEST(Connections, RecordIdsAreNotReusedWhenARecordIs) {
  const std::string seg = unique_segment_name("conn-reuse");
  SegmentGuard guard(seg);
  Exporter exporter(seg);
  Child a = start_writer(seg, kWardB, "ward-a");
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));
  const json before = get_json(exporter, "/api/v1/connections", 200);
  ASSERT_EQ(before["connections"].size(), 1u);
  const std::string old_id = before["connections"][0]["id"];
  get_json(exporter, "/api/v1/connections/" + old_id, 200);

  a.signal(SIGKILL);
  EXPECT_EQ(a.wait(), 128 + SIGKILL);
  auto segment = wsm::shm::Segment::open(seg, {wsm::shm::Access::read_only});
  ASSERT_TRUE(segment);
  // The exporter's interval frees the dead writer's record.
  ASSERT_TRUE(wait_until([&] {
    return segment->header().connections_reaped.load(std::memory_order_relaxed) >= 1;
  }));
  Child b = start_writer(seg, {"connection", "nurse", "u9", "p9", "55", "1", "1"}, "ward-b");
  const auto table = table_of(seg);
  ASSERT_EQ(table.size(), 1u);
  const std::string new_id = record_id_of(seg, table[0]);
  // The same record, a new tenant: else this test shows nothing.
  const auto old_record = wsm::shm::parse_record_id(old_id), new_record = wsm::shm::parse_record_id(new_id);
  ASSERT_TRUE(old_record && new_record) << old_id << " " << new_id;
  EXPECT_EQ(new_record->index, old_record->index);
  EXPECT_GT(new_record->tenant, old_record->tenant);

  const json after = get_json(exporter, "/api/v1/connections", 200);
  ASSERT_EQ(after["connections"].size(), 1u);
  EXPECT_EQ(after["connections"][0]["id"], new_id);
  const json one = get_json(exporter, "/api/v1/connections/" + new_id, 200);
  EXPECT_EQ(one["connection"]["role"], "nurse");
  expect_item_is(one["connection"], table[0]);
  EXPECT_NE(get_json(exporter, "/api/v1/connections/" + old_id, 404)["error"].get<std::string>().find(old_id),
            std::string::npos);
  EXPECT_EQ(exporter.stop(), 0);
}

// 13 connections over two writers: /metrics carries exactly the 10 lowest scores, with the
// table's values, as one family; the summary's min_score and its threshold read the same tables
// (a segment gauge of the same name, as an older writer might register, is not a source).
TEST(Connections, HealthScoreInMetricsIsTheTenWorstOfTheTables) {
  const std::string seg = unique_segment_name("conn-health");
  SegmentGuard guard(seg);
  std::vector<std::string> first = {"gauge", "websocket_health_score", "connection_id=old,role=nurse", "1", "min"};
  std::vector<std::string> second;
  for (int i = 0; i < 13; ++i) {
    // Scores 97.5, 90, 82.5, ... 7.5: exact in binary, distinct, spread over both writers.
    const std::vector<std::string> op = {"connection", i % 3 == 0 ? "nurse" : "doctor", "user" + std::to_string(i),
                                         "-", std::to_string(97.5 - 7.5 * i), "0", "0"};
    (i % 2 == 0 ? first : second).insert((i % 2 == 0 ? first : second).end(), op.begin(), op.end());
  }
  Child a = start_writer(seg, first, "ward-a");
  Child b = start_writer(seg, second, "ward-b");
  Exporter exporter(seg, {"--id-labels", "raw"}, {"WEBSOCKET_HEALTH_SCORE_THRESHOLD=10"});
  ASSERT_TRUE(wait_for_http(exporter.port(), "/healthz", 200));

  auto table = table_of(seg);
  ASSERT_EQ(table.size(), 13u);
  std::sort(table.begin(), table.end(), [](const auto& x, const auto& y) { return x.health_score < y.health_score; });
  std::map<std::string, double> worst;
  for (std::size_t i = 0; i < 10; ++i) {
    worst["{connection_id=\"" + wsm::shm::format_connection_id(table[i].id) + "\",role=\"" + table[i].role + "\"}"] =
        table[i].health_score;
  }
  const std::string text = exporter.metrics();
  EXPECT_EQ(health_samples(text), worst);
  const auto e = parse_exposition(text);
  EXPECT_EQ(e.types.at("websocket_health_score"), "gauge");
  const std::string block = e.blocks.at("websocket_health_score");
  EXPECT_EQ(std::count(block.begin(), block.end(), '#'), 2) << block;  // one HELP, one TYPE
  EXPECT_EQ(text.find("# TYPE websocket_health_score"), text.rfind("# TYPE websocket_health_score"));
  EXPECT_EQ(promtool_problems(text), std::vector<std::string>{}) << text;

  json summary;
  ASSERT_TRUE(wait_until([&] {
    summary = get_json(exporter, "/api/v1/summary", 200);
    return summary["health"]["min_score"] == table[0].health_score;
  })) << summary.dump();
  const auto breached = std::find_if(summary["breached"].begin(), summary["breached"].end(),
                                     [](const json& b) { return b["threshold"] == "health_score"; });
  ASSERT_NE(breached, summary["breached"].end()) << summary.dump();
  EXPECT_EQ((*breached)["value"], 7.5);
  EXPECT_EQ((*breached)["limit"], 10);
  EXPECT_EQ(exporter.stop(), 0);
}

}  // namespace
