#include "dump_json.hpp"

#include <vector>

#include "segment_totals.hpp"
#include "test_support.hpp"

namespace wsm::test {

Result<Dump> dump_json(const std::string& segment) {
  const CommandResult r = run({bin("wsm"), "dump", "--json", segment});
  if (r.exit_code != 0) {
    return fail(Errc::system, "wsm dump --json " + segment + " exited " + std::to_string(r.exit_code) + ": " + r.err);
  }
  Dump d;
  d.document = nlohmann::json::parse(r.out, nullptr, false);
  if (d.document.is_discarded() || !d.document.contains("series")) {
    return fail(Errc::corrupt, "wsm dump --json printed no JSON document: " + r.out);
  }
  for (const auto& s : d.document["series"]) {
    std::vector<std::pair<std::string, std::string>> owned;
    for (const auto& [k, v] : s["labels"].items()) {
      if (k != "worker") owned.emplace_back(k, v.get<std::string>());
    }
    const std::vector<Label> labels(owned.begin(), owned.end());
    const pid_t worker = s["labels"].contains("worker") ? std::stoi(s["labels"]["worker"].get<std::string>()) : -1;
    d.series[series_key(s["name"].get<std::string>(), labels, worker)] = s;
  }
  return d;
}

}  // namespace wsm::test
