// The exposition library in-process against real segments: classic buckets, both text formats,
// escaping of hostile label values (checked by promtool), the identifier-label policy.
#include <gtest/gtest.h>
#include <wsm/writer.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <sys/stat.h>
#include <utility>

#include "exporter_test_support.hpp"
#include "wsm/exposition/classic_buckets.hpp"
#include "wsm/exposition/format.hpp"
#include "wsm/exposition/id_labels.hpp"
#include "wsm/shm/histogram_scheme.hpp"
#include "wsm/shm/labels.hpp"
#include "wsm/shm/tally.hpp"

namespace {

using namespace wsm;
using exposition::Format;

// A segment read the way the exporter reads it.
struct Read {
  explicit Read(const std::string& name)
      : segment(*shm::Segment::open(name, {shm::Access::read_only})),
        snapshot(*shm::Snapshot::take(segment, catalog)),
        aggregation(shm::Aggregation::of(catalog, snapshot)) {}
  shm::Segment segment;
  shm::CatalogView catalog;
  shm::Snapshot snapshot;
  shm::Aggregation aggregation;

  std::string write(Format f, std::span<const exposition::ComputedFamily> computed = {}) {
    std::string out;
    exposition::Writer().write(f, &aggregation, computed, created(), out);
    return out;
  }
  [[nodiscard]] double created() const { return static_cast<double>(snapshot.stats.created_unix_ns) / 1e9; }
};

// A process may open at most 8 segments through the writer API: ctest runs each test in a process
// of its own, but the whole binary run at once passes that limit, which must fail the test with
// the library's error, not dereference it.
Registry open_registry(const std::string& name) {
  auto opened = Registry::open(name, {.role = "unit", .enabled = true});
  if (!opened) throw std::runtime_error(opened.error().message());
  return std::move(*opened);
}

// The label block of a sample line "name{...} value", parsed back into (name, value) pairs.
std::vector<std::pair<std::string, std::string>> labels_of_line(const std::string& key) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto open = key.find('{');
  if (open == std::string::npos) return out;
  EXPECT_TRUE(shm::parse_canonical_labels(std::string_view(key).substr(open + 1, key.size() - open - 2), out)) << key;
  return out;
}

TEST(ClassicBuckets, EveryEdgeIsAnExactHdrEdgeInTheDocumentedRange) {
  struct Case {
    shm::Unit unit;
    std::uint8_t max_octave;
    std::uint64_t first, last;
    std::size_t count;
  };
  for (const Case c : {Case{shm::Unit::seconds, shm::kMaxOctaveNanoseconds, 1u << 10, 1ull << 45, 36},
                       Case{shm::Unit::bytes, shm::kMaxOctaveBytes, 8, 1ull << 32, 30},
                       Case{shm::Unit::percent, shm::kMaxOctavePercent, 1, 256, 16},
                       Case{shm::Unit::none, shm::kMaxOctaveOther, 1, 1ull << 40, 41}}) {
    const auto edges = exposition::classic_edges(c.unit, c.max_octave);
    const shm::HistogramScheme scheme{c.max_octave};
    ASSERT_EQ(edges.size(), c.count) << static_cast<int>(c.unit);
    EXPECT_EQ(edges.front().edge, c.first);
    EXPECT_EQ(edges.back().edge, c.last);
    for (std::size_t i = 0; i < edges.size(); ++i) {
      EXPECT_EQ(scheme.upper_edge(edges[i].last_bucket), edges[i].edge);
      EXPECT_EQ(scheme.index_of(edges[i].edge), edges[i].last_bucket);
      EXPECT_EQ(scheme.index_of(edges[i].edge + 1), edges[i].last_bucket + 1) << "edge not a bucket end";
      if (i > 0) {
        EXPECT_LT(edges[i - 1].edge, edges[i].edge);
      }
    }
  }
}

TEST(Exposition, CumulativeBucketsSumAndCountMatchRecordedValues) {
  const std::string name = test::unique_segment_name("expo-hist");
  test::SegmentGuard guard(name);
  Registry reg = open_registry(name);
  auto h = reg.histogram("t_latency_seconds", {{"stage", "parse"}}, "latency");
  std::vector<std::uint64_t> values;
  for (std::uint64_t v = 0; v < 3000; ++v) values.push_back((v * v * 7919) % 5'000'000'000ull);
  values.push_back(1ull << 46);  // above the top edge: only +Inf holds it
  std::uint64_t sum = 0;
  for (std::uint64_t v : values) {
    h.record(v);
    sum += v;
  }
  Read r(name);
  const auto e = test::parse_exposition(r.write(Format::prometheus_text));
  ASSERT_TRUE(e.errors.empty()) << e.errors.front();
  const auto edges = exposition::classic_edges(shm::Unit::seconds, shm::kMaxOctaveNanoseconds);
  for (const auto& edge : edges) {
    std::string le;
    exposition::append_number(le, static_cast<double>(edge.edge) / 1e9);
    const auto expected = std::count_if(values.begin(), values.end(), [&](std::uint64_t v) { return v <= edge.edge; });
    EXPECT_EQ(test::sample(e, "t_latency_seconds_bucket{stage=\"parse\",le=\"" + le + "\"}"), static_cast<double>(expected))
        << "le=" << le;
  }
  EXPECT_EQ(test::sample(e, "t_latency_seconds_bucket{stage=\"parse\",le=\"+Inf\"}"), static_cast<double>(values.size()));
  EXPECT_EQ(test::sample(e, "t_latency_seconds_count{stage=\"parse\"}"), static_cast<double>(values.size()));
  EXPECT_DOUBLE_EQ(test::sample(e, "t_latency_seconds_sum{stage=\"parse\"}"), static_cast<double>(sum) / 1e9);
}

TEST(Exposition, HostileLabelValuesAndHelpPassPromtoolAndReadBack) {
  const std::string name = test::unique_segment_name("expo-hostile");
  test::SegmentGuard guard(name);
  Registry reg = open_registry(name);
  const std::vector<std::string> hostile = {
      "quote\"inside", "back\\slash", "new\nline", "brace}close", "comma,and=equals", "\\\"both\\\"",
      "tab\there", "emoji \xf0\x9f\x98\x80", "bad utf8 \xff\xfe end", "", std::string(1000, 'x') + "\"",
      "# not a comment", "le=\"1\"} 5"};
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    reg.counter("t_hostile_total", {{"value", hostile[i]}, {"i", std::to_string(i)}},
                "help with \"quotes\", back\\slash and a\nnewline")
        .inc(i + 1);
  }
  reg.histogram("t_hostile_bytes", {{"value", hostile[0]}}, "sizes \\ \"x\"").record(100);
  Read r(name);
  const std::string text = r.write(Format::prometheus_text);
  const auto check = test::promtool_check(text);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << "\n" << text;

  const auto e = test::parse_exposition(text);
  ASSERT_TRUE(e.errors.empty()) << e.errors.front();
  std::size_t found = 0;
  for (const auto& [key, value] : e.samples) {
    if (!key.starts_with("t_hostile_total{")) continue;
    const auto labels = labels_of_line(key);
    ASSERT_EQ(labels.size(), 2u) << key;
    const std::size_t i = std::stoul(labels[0].second);
    std::string expected;  // as stored: invalid UTF-8 replaced, then unescaped again
    shm::escape_label_value(hostile[i], expected);
    std::vector<std::pair<std::string, std::string>> back;
    ASSERT_TRUE(shm::parse_canonical_labels("v=\"" + expected + "\"", back));
    EXPECT_EQ(labels[1].second, back[0].second) << "value #" << i;
    if (hostile[i].find('\xff') == std::string::npos) {
      EXPECT_EQ(labels[1].second, hostile[i]);
    }
    EXPECT_EQ(value, std::to_string(i + 1));
    ++found;
  }
  EXPECT_EQ(found, hostile.size());

  // OpenMetrics escapes " in HELP too; the text format must not (\" is no escape there).
  const std::string om = r.write(Format::openmetrics);
  EXPECT_NE(om.find("# HELP t_hostile help with \\\"quotes\\\", back\\\\slash and a\\nnewline\n"), std::string::npos) << om;
  EXPECT_NE(text.find("# HELP t_hostile_total help with \"quotes\", back\\\\slash and a\\nnewline\n"), std::string::npos);
}

TEST(Exposition, OpenMetricsHasUnitCreatedTotalAndEof) {
  const std::string name = test::unique_segment_name("expo-om");
  test::SegmentGuard guard(name);
  Registry reg = open_registry(name);
  reg.counter("t_sent_bytes_total", {{"role", "a"}}, "bytes").inc(42);
  reg.gauge("t_level_percent", {{"role", "a"}}, "level").set(12.5);
  auto h = reg.histogram("t_wait_seconds", {}, "wait");
  h.record(std::chrono::microseconds(3));
  h.record(std::chrono::milliseconds(2));
  Read r(name);
  const std::string om = r.write(Format::openmetrics);
  const auto e = test::parse_exposition(om);
  ASSERT_TRUE(e.errors.empty()) << e.errors.front();
  ASSERT_TRUE(om.ends_with("# EOF\n"));
  EXPECT_EQ(om.find("# EOF"), om.size() - 6) << "# EOF once, at the end";
  EXPECT_EQ(e.types.at("t_sent_bytes"), "counter");
  EXPECT_NE(om.find("# UNIT t_sent_bytes bytes\n"), std::string::npos);
  EXPECT_NE(om.find("# UNIT t_level_percent percent\n"), std::string::npos);
  EXPECT_NE(om.find("# UNIT t_wait_seconds seconds\n"), std::string::npos);
  EXPECT_EQ(test::sample(e, "t_sent_bytes_total{role=\"a\"}"), 42);
  EXPECT_DOUBLE_EQ(test::sample(e, "t_sent_bytes_created{role=\"a\"}"), r.created());
  EXPECT_DOUBLE_EQ(test::sample(e, "t_wait_seconds_created"), r.created());
  EXPECT_EQ(e.samples.count("t_level_percent_created{role=\"a\"}"), 0u) << "gauges have no _created";
  EXPECT_EQ(test::sample(e, "t_wait_seconds_count"), 2);
  EXPECT_EQ(test::sample(e, "t_wait_seconds_bucket{le=\"+Inf\"}"), 2);
  EXPECT_LT(om.find("t_wait_seconds_count "), om.find("t_wait_seconds_sum "));
  EXPECT_DOUBLE_EQ(test::sample(e, "t_wait_seconds_sum"), 0.002003);

  // The text format keeps the counter's full name and has no UNIT, _created or EOF.
  const std::string text = r.write(Format::prometheus_text);
  EXPECT_NE(text.find("# TYPE t_sent_bytes_total counter\n"), std::string::npos);
  EXPECT_EQ(text.find("# UNIT"), std::string::npos);
  EXPECT_EQ(text.find("_created"), std::string::npos);
  EXPECT_EQ(text.find("# EOF"), std::string::npos);
  EXPECT_EQ(test::promtool_check(text).exit_code, 0);
}

// The OpenMetrics line of `om` that starts with `series` followed by a space ("" if none).
std::string line_of(const std::string& om, const std::string& series) {
  const auto at = om.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  return om.substr(at + 1, om.find('\n', at + 1) - at - 1);
}

Exemplar trace(char digit) {
  return *Exemplar::from_hex(std::string(32, digit), std::string(16, digit));
}

TEST(Exposition, ExemplarsGoOnTheBucketThatCountedThemInOpenMetricsOnly) {
  const std::string name = test::unique_segment_name("expo-exemplar");
  test::SegmentGuard guard(name);
  Registry reg = open_registry(name);
  reg.histogram("t_wait_seconds", {{"k", "a"}}).record(std::chrono::microseconds(3));
  reg.histogram("t_wait_seconds", {{"k", "a"}}).record(std::chrono::milliseconds(2), trace('a'));
  // Exactly on an edge (2^21 ns): counted at that edge, so shown there.
  reg.histogram("t_wait_seconds", {{"k", "edge"}}).record(std::uint64_t{1} << 21, trace('b'));
  // Above the top edge: only +Inf counts it.
  reg.histogram("t_wait_seconds", {{"k", "top"}}).record(std::uint64_t{1} << 46, trace('c'));
  reg.counter("t_sent_total", {{"k", "a"}}).inc(42, trace('d'));
  reg.counter("t_plain_total").inc(1);
  Read r(name);
  const std::string om = r.write(Format::openmetrics);
  const std::string a = std::string(32, 'a'), a_span = std::string(16, 'a');
  std::size_t marks = 0;
  for (std::size_t at = om.find(" # {"); at != std::string::npos; at = om.find(" # {", at + 1)) ++marks;
  EXPECT_EQ(marks, 4u) << "one exemplar per series that has one\n" << om;
  const std::string held = line_of(om, "t_wait_seconds_bucket{k=\"a\",le=\"0.002097152\"}");
  const std::string prefix = "t_wait_seconds_bucket{k=\"a\",le=\"0.002097152\"} 2 # {trace_id=\"" + a +
                             "\",span_id=\"" + a_span + "\"} 0.002 ";
  ASSERT_TRUE(held.starts_with(prefix)) << held;
  const double ts = std::stod(held.substr(prefix.size()));
  const double now = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch()).count()) / 1e3;
  EXPECT_LE(ts, now);
  EXPECT_GT(ts, now - 600) << "a unix time in seconds";
  EXPECT_EQ(line_of(om, "t_wait_seconds_bucket{k=\"a\",le=\"0.001048576\"}").find('#'), std::string::npos);
  EXPECT_EQ(line_of(om, "t_wait_seconds_bucket{k=\"a\",le=\"+Inf\"}").find('#'), std::string::npos);
  EXPECT_NE(line_of(om, "t_wait_seconds_bucket{k=\"edge\",le=\"0.002097152\"}").find(std::string(32, 'b')), std::string::npos);
  EXPECT_NE(line_of(om, "t_wait_seconds_bucket{k=\"top\",le=\"+Inf\"}").find(std::string(32, 'c')), std::string::npos);
  EXPECT_TRUE(line_of(om, "t_sent_total{k=\"a\"}").starts_with("t_sent_total{k=\"a\"} 42 # {trace_id=\"" +
                                                                std::string(32, 'd') + "\",span_id=\"" +
                                                                std::string(16, 'd') + "\"} 42 "))
      << om;
  EXPECT_EQ(line_of(om, "t_plain_total").find('#'), std::string::npos);
  // Never in the text format: it has no syntax for them.
  const std::string text = r.write(Format::prometheus_text);
  EXPECT_EQ(text.find("trace_id"), std::string::npos);
  EXPECT_EQ(text.find(" # "), std::string::npos);
  EXPECT_EQ(test::promtool_check(text).exit_code, 0);
}

TEST(Exposition, ComputedFamiliesFollowAndReplaceASegmentFamilyOfTheirName) {
  const std::string name = test::unique_segment_name("expo-computed");
  test::SegmentGuard guard(name);
  Registry reg = open_registry(name);
  reg.gauge("t_rate_per_second", {{"role", "a"}}, "from a worker").set(7);
  reg.counter("t_other_total", {}, "other").inc();
  Read r(name);
  std::vector<exposition::ComputedFamily> computed = {
      {"t_rate_per_second", "derived", shm::MetricType::gauge, {{"role=\"b\"", 2.5}}},
      {"t_self_total", "self", shm::MetricType::counter, {{"", 3}}},
      {"t_empty", "no samples: left out", shm::MetricType::gauge, {}}};
  const std::string text = r.write(Format::prometheus_text, computed);
  const auto e = test::parse_exposition(text);
  EXPECT_TRUE(std::isnan(test::sample(e, "t_rate_per_second{role=\"a\"}")));
  EXPECT_EQ(test::sample(e, "t_rate_per_second{role=\"b\"}"), 2.5);
  EXPECT_EQ(test::sample(e, "t_other_total"), 1);
  EXPECT_EQ(test::sample(e, "t_self_total"), 3);
  EXPECT_EQ(text.find("t_empty"), std::string::npos);
  EXPECT_EQ(std::count(text.begin(), text.end(), '#'), 6) << text;  // HELP+TYPE of 3 families
  const auto om = test::parse_exposition(r.write(Format::openmetrics, computed));
  EXPECT_DOUBLE_EQ(test::sample(om, "t_self_created"), r.created());
}

// The scrape's way (Monitor::scrape): the points a part at a time from a Tally, the identifier
// policy applied to each part, the parts written one after the other, each either at once or only
// after the next part was emitted and policed (as the scrape's PartWriter writes them on a second
// thread); byte for byte what the whole aggregation written at once gives, in both formats. The
// first two families are both rewritten by the policy, so a part written late is one of its copies
// while it makes the next.
TEST(Exposition, WrittenInPartsIsTheWholeExposition) {
  const std::string name = test::unique_segment_name("expo-parts");
  test::SegmentGuard guard(name);
  Registry reg = open_registry(name);
  for (int i = 0; i < 3; ++i) reg.counter("t_a2_total", {{"user_id", std::to_string(i)}}).inc(2);
  for (int i = 0; i < 5; ++i) {
    reg.counter("t_a_total", {{"role", "doctor"}, {"user_id", std::to_string(100 + i)}}).inc(i + 1);
    reg.counter("t_b_total", {{"k", std::to_string(i)}}, "b").inc(10 * i + 1, Exemplar{{1, 2}, {3}});
    reg.histogram("t_c_seconds", {{"k", std::to_string(i % 2)}}).record(std::chrono::microseconds(100 * i + 1));
  }
  reg.gauge("t_rate_per_second", {{"role", "a"}}, "from a worker").set(7);  // replaced by a computed one
  reg.gauge("t_d", {{"patient_id", "p1"}}, "", GaugeMode::max).set(3);
  reg.gauge("t_d", {{"patient_id", "p2"}}, "", GaugeMode::max).set(4);
  Read r(name);
  const std::vector<exposition::ComputedFamily> computed = {
      {"t_rate_per_second", "derived", shm::MetricType::gauge, {{"role=\"b\"", 2.5}}},
      {"t_self_total", "self", shm::MetricType::counter, {{"", 3}}}};
  exposition::IdLabelPolicy whole_policy(exposition::IdLabelMode::drop), parts_policy(exposition::IdLabelMode::drop);
  for (Format f : {Format::prometheus_text, Format::openmetrics}) {
    std::string whole;
    exposition::Writer().write(f, &whole_policy.apply(r.aggregation, r.snapshot.generation), computed, r.created(),
                               whole);
    for (const bool late : {false, true}) {
      for (std::size_t part_points : {1, 3}) {
        const std::string how = std::string(late ? "written late" : "written at once") + ", in parts of " +
                                std::to_string(part_points);
        shm::Tally tally;
        shm::CatalogView catalog;
        ASSERT_TRUE(tally.take(r.segment, catalog, {.part_points = part_points}));
        // Room for all of it, as the scrape reserves the last body's size: the parts write into it
        // without moving it (a copy of the whole body per scrape otherwise).
        std::string text;
        text.reserve(whole.size() + whole.size() / 16);  // with the scrape's slack
        const char* const buffer = text.data();
        exposition::Writer writer;
        writer.begin(f, computed, r.created(), text);
        int parts = 0;
        std::optional<shm::AggregationView> waiting;  // written once the next part is made
        while (tally.next_part()) {
          const shm::AggregationView part = parts_policy.apply(tally.aggregation(), tally.meta().generation).view();
          if (waiting) writer.part(*waiting);
          waiting = part;
          if (!late) writer.part(*std::exchange(waiting, std::nullopt));
          ++parts;
        }
        if (waiting) writer.part(*waiting);
        writer.end();
        // Families of 3, 5, 5, 2, 2 and 1 points: parts of at least 1 are the families, parts of at
        // least 3 put the two of 2 together.
        EXPECT_EQ(parts, part_points == 1 ? 6 : 5) << how;
        EXPECT_EQ(text, whole) << how;
        EXPECT_EQ(text.data(), buffer) << how << ": the parts moved the buffer";
      }
    }
    EXPECT_NE(whole.find("t_a_total{role=\"doctor\"} 15"), std::string::npos) << whole;
    EXPECT_EQ(whole.find("role=\"a\""), std::string::npos) << whole;
  }
}

TEST(IdLabels, DropSumsSeriesThatDifferOnlyInIdentifiers) {
  const std::string name = test::unique_segment_name("expo-drop");
  test::SegmentGuard guard(name);
  Registry reg = open_registry(name);
  reg.counter("t_msgs_total", {{"role", "doctor"}, {"user_id", "u1"}}).inc(3);
  reg.counter("t_msgs_total", {{"role", "doctor"}, {"user_id", "u2"}}).inc(4);
  reg.counter("t_msgs_total", {{"role", "doctor"}}).inc(5);  // already without: merges too
  reg.counter("t_msgs_total", {{"role", "nurse"}, {"patient_id", "p9"}, {"connection_id", "c1"}}).inc(6);
  reg.gauge("t_open", {{"role", "doctor"}, {"user_id", "u1"}}).set(2);
  reg.gauge("t_open", {{"role", "doctor"}, {"user_id", "u2"}}).set(3);
  reg.gauge("t_worst", {{"connection_id", "a"}}, "", GaugeMode::min).set(40);
  reg.gauge("t_worst", {{"connection_id", "b"}}, "", GaugeMode::min).set(15);
  reg.histogram("t_size_bytes", {{"user_id", "u1"}}).record(10);
  reg.histogram("t_size_bytes", {{"user_id", "u2"}}).record(1000);
  reg.counter("t_plain_total", {{"role", "x"}}).inc();
  Read r(name);
  exposition::IdLabelPolicy policy(exposition::IdLabelMode::drop);
  const shm::Aggregation& out = policy.apply(r.aggregation, r.snapshot.generation);
  std::string text;
  exposition::Writer().write(Format::prometheus_text, &out, {}, 0, text);
  const auto e = test::parse_exposition(text);
  EXPECT_EQ(test::sample(e, "t_msgs_total{role=\"doctor\"}"), 12);
  EXPECT_EQ(test::sample(e, "t_msgs_total{role=\"nurse\"}"), 6);
  EXPECT_EQ(test::sample(e, "t_open{role=\"doctor\"}"), 5);
  EXPECT_EQ(test::sample(e, "t_worst"), 15);
  EXPECT_EQ(test::sample(e, "t_size_bytes_count"), 2);
  EXPECT_EQ(test::sample(e, "t_size_bytes_sum"), 1010);
  EXPECT_EQ(test::sample(e, "t_size_bytes_bucket{le=\"16\"}"), 1);
  EXPECT_EQ(test::sample(e, "t_plain_total{role=\"x\"}"), 1);
  EXPECT_EQ(text.find("_id="), std::string::npos) << text;
  EXPECT_EQ(test::promtool_check(text).exit_code, 0);
  // A second apply (cached rewrites) gives the same.
  std::string again;
  exposition::Writer().write(Format::prometheus_text, &policy.apply(r.aggregation, r.snapshot.generation), {}, 0, again);
  EXPECT_EQ(again, text);
}

TEST(IdLabels, DroppedIdentifiersKeepTheMostRecentExemplarOfTheMergedSeries) {
  const std::string name = test::unique_segment_name("expo-drop-ex");
  test::SegmentGuard guard(name);
  Registry reg = open_registry(name);
  reg.histogram("t_wait_seconds", {{"user_id", "u1"}}).record(std::chrono::milliseconds(2), trace('1'));
  reg.histogram("t_wait_seconds", {{"user_id", "u2"}}).record(std::chrono::milliseconds(3), trace('2'));
  reg.histogram("t_wait_seconds", {{"user_id", "u3"}}).record(std::chrono::milliseconds(4));
  Read r(name);
  exposition::IdLabelPolicy policy(exposition::IdLabelMode::drop);
  const shm::Aggregation& out = policy.apply(r.aggregation, r.snapshot.generation);
  std::string om;
  exposition::Writer().write(Format::openmetrics, &out, {}, 0, om);
  EXPECT_EQ(om.find(std::string(32, '1')), std::string::npos) << om;
  EXPECT_NE(line_of(om, "t_wait_seconds_bucket{le=\"0.004194304\"}").find(std::string(32, '2')), std::string::npos) << om;
}

TEST(IdLabels, HashGivesStableKeyedPseudonymsAndRawKeepsValues) {
  const std::string name = test::unique_segment_name("expo-hash");
  test::SegmentGuard guard(name);
  Registry reg = open_registry(name);
  reg.counter("t_msgs_total", {{"role", "doctor"}, {"user_id", "alice"}}).inc(3);
  reg.counter("t_msgs_total", {{"role", "doctor"}, {"user_id", "bob"}}).inc(4);
  Read r(name);
  exposition::HashKey k1{}, k2{};
  k1[0] = 1;
  k2[0] = 2;
  exposition::IdLabelPolicy p1(exposition::IdLabelMode::hash, k1), p2(exposition::IdLabelMode::hash, k2);
  const std::string alice = p1.pseudonym("alice");
  EXPECT_EQ(alice.size(), 16u);
  EXPECT_EQ(alice, exposition::IdLabelPolicy(exposition::IdLabelMode::hash, k1).pseudonym("alice"));
  EXPECT_NE(alice, p2.pseudonym("alice"));
  EXPECT_NE(alice, p1.pseudonym("bob"));
  std::string text;
  exposition::Writer().write(Format::prometheus_text, &p1.apply(r.aggregation, r.snapshot.generation), {}, 0, text);
  const auto e = test::parse_exposition(text);
  EXPECT_EQ(test::sample(e, "t_msgs_total{role=\"doctor\",user_id=\"" + alice + "\"}"), 3);
  EXPECT_EQ(test::sample(e, "t_msgs_total{role=\"doctor\",user_id=\"" + p1.pseudonym("bob") + "\"}"), 4);
  EXPECT_EQ(text.find("alice"), std::string::npos);

  exposition::IdLabelPolicy raw(exposition::IdLabelMode::raw);
  EXPECT_EQ(&raw.apply(r.aggregation, r.snapshot.generation), &r.aggregation);
}

TEST(IdLabels, HashKeyFileIsCreatedPrivateAndRefusedWhenOthersCanRead) {
  const auto dir = std::filesystem::temp_directory_path() / test::unique_segment_name("key");
  const std::string path = (dir / "sub" / "id-hash.key").string();
  auto k1 = exposition::load_or_create_hash_key(path);
  ASSERT_TRUE(k1) << k1.error().message();
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto k2 = exposition::load_or_create_hash_key(path);
  ASSERT_TRUE(k2);
  EXPECT_EQ(*k1, *k2);
  ::chmod(path.c_str(), 0644);
  auto refused = exposition::load_or_create_hash_key(path);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("chmod 600"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
