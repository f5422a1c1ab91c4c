#include "strict_exposition.hpp"

#include <charconv>
#include <set>

namespace wsm::fuzz {

namespace {

using Failure = std::unexpected<std::string>;

bool name_char(char c, bool first, bool colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}

// [a-zA-Z_:][a-zA-Z0-9_:]* (metric) or [a-zA-Z_][a-zA-Z0-9_]* (label) at the front of s.
std::size_t name_length(std::string_view s, bool colon) {
  std::size_t n = 0;
  while (n < s.size() && name_char(s[n], n == 0, colon)) ++n;
  return n;
}

// Decodes an escaped string up to (not including) `end_quote` or the end of s when end_quote is
// false. Text HELP knows \\ and \n; label values and OpenMetrics HELP know \" as well and may not
// hold a raw ". Returns the bytes consumed (the closing quote excluded).
std::expected<std::size_t, std::string> unescape(std::string_view s, bool quoted, bool quote_escape,
                                                 std::string& out) {
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted && c == '"') return i;
    if (c == '"' && quote_escape) return Failure("a raw '\"' where it must be escaped");
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i == s.size()) return Failure("a '\\' at the end");
    if (s[i] == '\\') {
      out += '\\';
    } else if (s[i] == 'n') {
      out += '\n';
    } else if (s[i] == '"' && quote_escape) {
      out += '"';
    } else {
      return Failure(std::string("the escape '\\") + s[i] + "' is not allowed");
    }
  }
  if (quoted) return Failure("an unterminated quoted string");
  return i;
}

bool valid_value(std::string_view v) {
  if (v == "NaN" || v == "+Inf" || v == "-Inf") return true;
  if (v.empty() || v[0] == '+') return false;
  for (char c : v) {  // from_chars also reads "inf", "nan" and hex: not in the formats' grammar
    if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) return false;
  }
  double d = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), d);
  return r.ec == std::errc() && r.ptr == v.data() + v.size();
}

const std::set<std::string_view> kTextTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
const std::set<std::string_view> kOpenMetricsTypes = {"counter", "gauge", "histogram", "summary", "unknown",
                                                      "info", "stateset", "gaugehistogram"};

// The sample names a family of this type may have.
bool belongs(const StrictFamily& f, std::string_view sample, bool om) {
  if (sample == f.name) return f.type != "histogram" && !(om && f.type == "counter");
  if (!sample.starts_with(f.name)) return false;
  const std::string_view suffix = sample.substr(f.name.size());
  if (f.type == "histogram") return suffix == "_bucket" || suffix == "_sum" || suffix == "_count" || (om && suffix == "_created");
  if (f.type == "counter" && om) return suffix == "_total" || suffix == "_created";
  return false;
}

std::expected<StrictSample, std::string> sample_line(std::string_view line, bool om) {
  StrictSample s;
  const std::size_t n = name_length(line, true);
  if (n == 0) return Failure("no metric name");
  s.name = line.substr(0, n);
  line.remove_prefix(n);
  if (!line.empty() && line[0] == '{') {
    line.remove_prefix(1);
    std::set<std::string> seen;
    while (true) {
      const std::size_t ln = name_length(line, false);
      if (ln == 0) return Failure("no label name");
      std::string name(line.substr(0, ln));
      if (!seen.insert(name).second) return Failure("label '" + name + "' twice");
      line.remove_prefix(ln);
      if (!line.starts_with("=\"")) return Failure("no =\" after label " + name);
      line.remove_prefix(2);
      std::string value;
      auto used = unescape(line, true, true, value);
      if (!used) return Failure("label " + name + ": " + used.error());
      if (!valid_utf8(value)) return Failure("label " + name + ": invalid UTF-8");
      line.remove_prefix(*used + 1);
      s.labels.emplace_back(std::move(name), std::move(value));
      if (line.starts_with(",")) {
        line.remove_prefix(1);
        continue;
      }
      if (!line.starts_with("}")) return Failure("no ',' or '}' after a label");
      line.remove_prefix(1);
      break;
    }
  }
  if (!line.starts_with(" ")) return Failure("no space before the value");
  line.remove_prefix(1);
  if (!valid_value(line)) return Failure("value '" + std::string(line) + "'");
  (void)om;
  s.value = line;
  return s;
}

}  // namespace

std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size() || b(1) < lo || b(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xbf) return 0;
  }
  return n;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string replace_invalid_utf8(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::expected<std::vector<StrictFamily>, std::string> parse_strict(std::string_view text, bool om) {
  std::vector<StrictFamily> families;
  std::set<std::string> names;
  if (!text.empty() && text.back() != '\n') return Failure("the last line has no newline");
  bool eof = false;
  std::size_t line_no = 0;
  for (std::size_t start = 0; start < text.size(); ++line_no) {
    const std::size_t nl = text.find('\n', start);
    const std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    const auto fail = [&](const std::string& why) {
      return Failure("line " + std::to_string(line_no + 1) + " '" + std::string(line) + "': " + why);
    };
    if (eof) return fail("a line after # EOF");
    if (line.starts_with("#")) {
      if (om && line == "# EOF") {
        eof = true;
        continue;
      }
      const std::string_view keyword = line.substr(0, 7);
      if (keyword != "# HELP " && keyword != "# TYPE " && !(om && keyword == "# UNIT ")) {
        return fail("not a HELP, TYPE" + std::string(om ? ", UNIT or EOF" : "") + " line");
      }
      std::string_view rest = line.substr(7);
      const std::size_t n = name_length(rest, true);
      if (n == 0) return fail("no metric name");
      const std::string name(rest.substr(0, n));
      rest.remove_prefix(n);
      if (!rest.starts_with(" ")) return fail("no space after the name");
      rest.remove_prefix(1);
      if (keyword == "# HELP ") {
        if (!names.insert(name).second) return fail("family " + name + " appears twice");
        StrictFamily f;
        f.name = name;
        auto used = unescape(rest, false, om, f.help);
        if (!used) return fail(used.error());
        if (!valid_utf8(f.help)) return fail("HELP is not valid UTF-8");
        families.push_back(std::move(f));
        continue;
      }
      if (families.empty() || families.back().name != name) return fail("TYPE/UNIT not after its HELP");
      StrictFamily& f = families.back();
      if (keyword == "# TYPE ") {
        if (!f.type.empty() || !f.samples.empty()) return fail("a second TYPE or a TYPE after samples");
        if (!(om ? kOpenMetricsTypes : kTextTypes).contains(rest)) return fail("unknown type");
        f.type = rest;
      } else {
        if (f.type.empty() || !f.unit.empty() || !f.samples.empty()) return fail("UNIT out of place");
        if (rest.empty() || !name.ends_with("_" + std::string(rest))) return fail("UNIT is not the name's suffix");
        f.unit = rest;
      }
      continue;
    }
    if (families.empty() || families.back().type.empty()) return fail("a sample before HELP and TYPE");
    auto s = sample_line(line, om);
    if (!s) return fail(s.error());
    if (!belongs(families.back(), s->name, om)) return fail("sample of another family");
    families.back().samples.push_back(std::move(*s));
  }
  if (om && !eof) return Failure("no # EOF at the end");
  return families;
}

}  // namespace wsm::fuzz
