// render: thresholds from the environment -> rules YAML on stdout or into --out (atomically, so a
// Prometheus reloading the file never reads half of it). thresholds: the effective values as JSON.
// catalogue: the metric catalogue and the thresholds as JSON, for the generated dashboards.
#include "wsm/alerts/commands.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <system_error>

#include "thresholds_json.hpp"
#include "wsm/alerts/catalogue_json.hpp"
#include "wsm/alerts/render.hpp"

namespace wsm::alerts {
namespace {

constexpr int kProblem = 1;
constexpr int kUsage = 2;

// Writes next to the target and renames over it.
[[nodiscard]] bool write_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !out.write(text.data(), static_cast<std::streamsize>(text.size())) || !out.flush()) {
      std::fprintf(stderr, "error: cannot write %s\n", tmp.c_str());
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::fprintf(stderr, "error: cannot rename %s to %s: %s\n", tmp.c_str(), path.c_str(),
                 ec.message().c_str());
    std::filesystem::remove(tmp, ec);
    return false;
  }
  return true;
}

// The thresholds from the environment, or the one-line error and kUsage.
[[nodiscard]] Result<ws::Thresholds> thresholds_or_report(int& exit_code) {
  auto thresholds = ws::thresholds_from_env(&std::getenv);
  if (!thresholds) {
    std::fprintf(stderr, "error: %s\n", thresholds.error().message().c_str());
    exit_code = kUsage;
  }
  return thresholds;
}

}  // namespace

void add_alerts_commands(CLI::App& parent, int& exit_code) {
  struct RenderOptions {
    std::string out;
    std::string runbook_base{kDefaultRunbookBase};
    std::string for_override;
  };
  auto options = std::make_shared<RenderOptions>();
  auto* render = parent.add_subcommand(
      "render",
      "Write the Prometheus rules (recording rules + nine alerts) for the thresholds in "
      "WEBSOCKET_LATENCY_THRESHOLD (s), WEBSOCKET_CPU_THRESHOLD (%), WEBSOCKET_MEMORY_THRESHOLD "
      "(bytes), WEBSOCKET_FAILURE_RATE_THRESHOLD (fraction), WEBSOCKET_HEALTH_SCORE_THRESHOLD");
  render->add_option("--out", options->out, "Write to FILE (atomically) instead of stdout");
  render->add_option("--runbook-base", options->runbook_base,
                     "URL of docs/runbooks.md that runbook_url annotations point into")
      ->capture_default_str();
  render->add_option("--for", options->for_override,
                     "Replace every alert's for: with DURATION (e.g. 1s, for tests and staging)");
  render->callback([options, &exit_code] {
    if (!options->for_override.empty() && !is_prometheus_duration(options->for_override)) {
      std::fprintf(stderr, "error: --for \"%s\" is not a Prometheus duration such as 1s, 30s, 5m\n",
                   options->for_override.c_str());
      exit_code = kUsage;
      return;
    }
    const auto thresholds = thresholds_or_report(exit_code);
    if (!thresholds) return;
    const std::string text =
        render_alert_rules(*thresholds, options->runbook_base, options->for_override);
    if (options->out.empty()) {
      std::fwrite(text.data(), 1, text.size(), stdout);
    } else if (!write_file(options->out, text)) {
      exit_code = kProblem;
    }
  });

  auto* show = parent.add_subcommand("thresholds", "Print the effective thresholds as JSON");
  show->callback([&exit_code] {
    const auto t = thresholds_or_report(exit_code);
    if (!t) return;
    std::printf("%s\n", thresholds_json(*t).dump(2).c_str());
  });

  auto* catalogue = parent.add_subcommand(
      "catalogue", "Print the metric catalogue (families, labels, label values) and the thresholds "
                   "as JSON: what dashboards/grafana/generate.py builds the Grafana views from");
  catalogue->callback([&exit_code] {
    const auto t = thresholds_or_report(exit_code);
    if (!t) return;
    const std::string text = catalogue_json(*t);
    std::fwrite(text.data(), 1, text.size(), stdout);
  });
}

}  // namespace wsm::alerts
