// Metric and label names, the canonical label set (sorted, escaped, valid UTF-8) and its parser.
#include <gtest/gtest.h>

#include <random>

#include "test_support.hpp"
#include "wsm/shm/labels.hpp"
#include "wsm/writer.hpp"

namespace {

using namespace wsm;
using namespace wsm::shm;

Result<std::string> canonical(std::initializer_list<Label> labels) {
  return canonical_labels(std::span<const Label>(labels.begin(), labels.size()));
}

std::string escaped(std::string_view value) {
  std::string out;
  escape_label_value(value, out);
  return out;
}

// An oracle independent of the implementation: decode code points, then apply RFC 3629's rules
// (shortest form, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    if (lead >= 0x80) {
      if ((lead & 0xe0) == 0xc0) extra = 1;
      else if ((lead & 0xf0) == 0xe0) extra = 2;
      else if ((lead & 0xf8) == 0xf0) extra = 3;
      else return false;
    }
    if (i + extra >= s.size()) return false;
    std::uint32_t cp = extra == 0 ? lead : lead & (0x3fu >> extra);
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3fu);
    }
    const std::uint32_t shortest[] = {0, 0x80, 0x800, 0x10000};
    if (cp < shortest[extra] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return false;
    i += extra + 1;
  }
  return true;
}

TEST(MetricName, AcceptsThePrometheusAlphabet) {
  for (const char* ok : {"a", "_", "a:b", "websocket_messages_sent_total", "A_b9:", "_9"}) {
    EXPECT_TRUE(validate_metric_name(ok)) << ok;
  }
  EXPECT_TRUE(validate_metric_name(std::string(kMaxNameBytes, 'm')));
}

TEST(MetricName, RejectsWithAMessageNamingIt) {
  for (const char* bad : {"", "1a", "a-b", "a b", "a{b", "caf\xc3\xa9", "a.b", "a\n"}) {
    auto r = validate_metric_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message().find("metric name"), std::string::npos) << r.error().message();
  }
  EXPECT_FALSE(validate_metric_name(std::string(kMaxNameBytes + 1, 'm')));
}

TEST(LabelName, RejectsColonsDigitsFirstAndReservedNames) {
  EXPECT_TRUE(validate_label_name("role"));
  EXPECT_TRUE(validate_label_name("_role"));
  // Stored label sets may carry the exposition's own names (the overflow series' wsm_overflow);
  // registrants may not: validate_user_label_name.
  EXPECT_TRUE(validate_label_name("le"));
  EXPECT_TRUE(validate_label_name("wsm_overflow"));
  for (const char* bad : {"", "a:b", "9a", "a-b", "__name__", "__x"}) {
    EXPECT_FALSE(validate_label_name(bad)) << bad;
  }
  auto r = validate_label_name("__x");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("reserved"), std::string::npos) << r.error().message();
}

TEST(MetricName, RejectsPrometheusReservedNames) {
  for (const char* bad : {"__name__", "__x", "__"}) {
    auto r = validate_metric_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message().find("reserved"), std::string::npos) << r.error().message();
  }
  EXPECT_TRUE(validate_metric_name("_x"));
}

// le (histogram buckets), quantile (summaries) and wsm_overflow (the overflow series) are the
// exposition's: a user's own would clash with the sample the exporter writes.
TEST(CanonicalLabels, RejectsTheExpositionsOwnLabelNames) {
  for (const char* reserved : {"le", "quantile", "wsm_overflow"}) {
    auto r = canonical({{"role", "x"}, {reserved, "1"}});
    ASSERT_FALSE(r) << reserved;
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message().find(std::string("'") + reserved + "' is reserved"), std::string::npos)
        << r.error().message();
  }
  EXPECT_TRUE(canonical({{"lee", "1"}, {"quantiles", "2"}, {"overflow", "3"}}));
}

// The same through the writer API, for every metric type: an error that names the reason.
TEST(CanonicalLabels, RegistryRefusesReservedNamesAndLabels) {
  test::SegmentGuard g(test::unique_segment_name("reserved"));
  auto reg = Registry::open(g.name(), {.role = "unit", .enabled = true});
  ASSERT_TRUE(reg) << reg.error().message();
  const std::vector<Result<Counter>> refused = {
      reg->try_counter("__hidden_total"), reg->try_counter("a_total", {{"le", "1"}}),
      reg->try_counter("b_total", {{"quantile", "0.5"}}), reg->try_counter("c_total", {{"wsm_overflow", "true"}})};
  for (const auto& r : refused) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message().find("reserved"), std::string::npos) << r.error().message();
  }
  EXPECT_FALSE(reg->try_gauge("g", {{"quantile", "0.9"}}));
  EXPECT_FALSE(reg->try_histogram("h_seconds", {{"le", "1"}}));
  EXPECT_TRUE(reg->try_counter("ok_total", {{"role", "x"}}));
}

TEST(CanonicalLabels, SortsByName) {
  auto c = canonical({{"b", "2"}, {"c", "3"}, {"a", "1"}});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(*c, R"(a="1",b="2",c="3")");
  auto same = canonical({{"c", "3"}, {"a", "1"}, {"b", "2"}});
  ASSERT_TRUE(same);
  EXPECT_EQ(*same, *c) << "the order labels are given in must not matter";
}

TEST(CanonicalLabels, EmptySetIsEmpty) {
  auto c = canonical({});
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, "");
}

// Prometheus text format 0.0.4 / OpenMetrics: in a label value, \ " and newline are escaped.
TEST(CanonicalLabels, EscapesBackslashQuoteAndNewline) {
  EXPECT_EQ(escaped("a\\b"), R"(a\\b)");
  EXPECT_EQ(escaped("say \"hi\""), R"(say \"hi\")");
  EXPECT_EQ(escaped("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(escaped("tab\tstays"), "tab\tstays");
  auto c = canonical({{"path", "C:\\dir\n\"x\""}});
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, R"(path="C:\\dir\n\"x\"")");
}

TEST(CanonicalLabels, KeepsValidUtf8) {
  for (const char* v : {"caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_EQ(escaped(v), v);
  }
}

TEST(CanonicalLabels, ReplacesInvalidUtf8WithReplacementCharacter) {
  const std::string fffd = "\xef\xbf\xbd";
  const char* bad[] = {
      "\xff",              // never valid
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong, 3 bytes
      "\xed\xa0\x80",      // UTF-16 surrogate
      "\xf4\x90\x80\x80",  // above U+10FFFF
      "\xc3",              // truncated at the end
      "\xe2\x82",          // truncated 3-byte sequence
      "\x80",              // lone continuation byte
      "\xf8\x88\x80\x80\x80",  // 5-byte form
  };
  for (const char* b : bad) {
    ASSERT_FALSE(valid_utf8(b)) << "oracle disagrees on " << ::testing::PrintToString(b);
    const std::string in = std::string("ok-") + b + "-ok";
    const std::string out = escaped(in);
    EXPECT_TRUE(valid_utf8(out)) << ::testing::PrintToString(out);
    EXPECT_TRUE(out.starts_with("ok-" + fffd)) << ::testing::PrintToString(out);
    EXPECT_TRUE(out.ends_with(fffd + "-ok")) << ::testing::PrintToString(out);
  }
}

TEST(CanonicalLabels, RandomBytesAlwaysBecomeValidUtf8) {
  std::mt19937 rng(1);
  for (int k = 0; k < 20000; ++k) {
    std::string v(rng() % 12, '\0');
    for (char& c : v) c = static_cast<char>(rng());
    const std::string out = escaped(v);
    ASSERT_TRUE(valid_utf8(out)) << ::testing::PrintToString(v) << " -> " << ::testing::PrintToString(out);
    if (valid_utf8(v) && v.find_first_of("\\\"\n") == std::string::npos) {
      ASSERT_EQ(out, v);
    }
  }
}

TEST(CanonicalLabels, RejectsDuplicatesReservedNamesAndOversizedSets) {
  auto dup = canonical({{"a", "1"}, {"b", "2"}, {"a", "3"}});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), Errc::invalid_argument);
  EXPECT_NE(dup.error().message().find("'a'"), std::string::npos) << dup.error().message();
  auto reserved = canonical({{"__x", "1"}});
  ASSERT_FALSE(reserved);
  EXPECT_EQ(reserved.error().code(), Errc::invalid_argument);
  EXPECT_FALSE(canonical({{"bad-name", "1"}}));
  const std::string big(kMaxLabelSetBytes, 'v');
  auto oversized = canonical({{"a", big}});
  ASSERT_FALSE(oversized);
  EXPECT_NE(oversized.error().message().find(std::to_string(kMaxLabelSetBytes)), std::string::npos);
  // Escaping counts: quotes double in size.
  EXPECT_FALSE(canonical({{"a", std::string(kMaxLabelSetBytes / 2, '"')}}));
}

TEST(ParseCanonicalLabels, RoundTripsRandomLabelSets) {
  std::mt19937 rng(2);
  const std::string name_chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789";
  const std::vector<std::string> pieces = {"a", "Z", " ", "\\", "\"", "\n", ",", "=", "=\"", "\",",
                                           "caf\xc3\xa9", "\xf0\x9f\x98\x80", "}", "{", "\t"};
  for (int round = 0; round < 2000; ++round) {
    std::map<std::string, std::string> want;
    const int n = static_cast<int>(rng() % 6);
    while (static_cast<int>(want.size()) < n) {
      std::string name(1, name_chars[rng() % 53]);  // a letter or _ first
      for (std::size_t k = rng() % 8; k > 0; --k) name += name_chars[rng() % name_chars.size()];
      if (!validate_user_label_name(name)) continue;  // __*, le, quantile, wsm_overflow
      std::string value;
      for (std::size_t k = rng() % 6; k > 0; --k) value += pieces[rng() % pieces.size()];
      want[name] = value;
    }
    std::vector<Label> given(want.begin(), want.end());
    std::shuffle(given.begin(), given.end(), rng);
    auto c = canonical_labels(given);
    ASSERT_TRUE(c) << c.error().message();
    std::vector<std::pair<std::string, std::string>> parsed;
    ASSERT_TRUE(parse_canonical_labels(*c, parsed)) << *c;
    const std::vector<std::pair<std::string, std::string>> expected(want.begin(), want.end());
    ASSERT_EQ(parsed, expected) << *c;
  }
}

TEST(ParseCanonicalLabels, RejectsMalformedText) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* bad : {"a", "a=1", "a=\"1", "=\"1\"", "a=\"1\"b=\"2\"", "a=\"1\\", "a=\"1\";b=\"2\""}) {
    EXPECT_FALSE(parse_canonical_labels(bad, out)) << bad;
  }
  EXPECT_TRUE(parse_canonical_labels("", out));
  EXPECT_TRUE(out.empty());
}

TEST(UnitFromName, FollowsPrometheusSuffixes) {
  EXPECT_EQ(unit_from_name("websocket_message_latency_seconds"), Unit::seconds);
  EXPECT_EQ(unit_from_name("cpu_seconds_total"), Unit::seconds);
  EXPECT_EQ(unit_from_name("websocket_message_size_bytes"), Unit::bytes);
  EXPECT_EQ(unit_from_name("websocket_bytes_sent_total"), Unit::none);
  EXPECT_EQ(unit_from_name("cpu_usage_percent"), Unit::percent);
  EXPECT_EQ(unit_from_name("websocket_messages_sent_total"), Unit::none);
  EXPECT_EQ(unit_suffix(Unit::seconds), "seconds");
}

// FNV-1a 64 test vectors (the published reference values): the catalog's hashes must be the same
// in every process and every build, which std::hash does not promise.
TEST(StableHash, MatchesFnv1aReferenceValues) {
  EXPECT_EQ(stable_hash(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(stable_hash("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(stable_hash("foobar"), 0x85944171f73967e8ull);
}

}  // namespace
