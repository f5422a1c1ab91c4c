// wsm top: a live view of a segment, refreshed every interval: per-family rates from the deltas
// of two snapshots, latency percentiles from the histogram buckets recorded in the last interval,
// open connections by role, writers alive. `q` quits; `--once` prints one frame for scripts.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "format.hpp"
#include "segment_reader.hpp"
#include "terminal.hpp"
#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/labels.hpp"
#include "wsm/shm/quantile.hpp"

namespace wsm::cli {

namespace {

// One family's totals at one instant, summed over its series.
struct FamilySample {
  std::string name;
  shm::MetricType type = shm::MetricType::counter;
  shm::Unit unit = shm::Unit::none;
  std::uint8_t max_octave = 0;
  std::uint64_t total = 0;  // counter: the sum; histogram: the count
  double gauge = 0;
  std::vector<std::uint64_t> buckets;  // histogram: non-cumulative, summed over the series
};

struct Sample {
  std::uint64_t generation = 0;
  std::uint64_t mono_ns = 0;
  std::uint64_t unix_ns = 0;
  std::map<std::string, FamilySample> families;  // by name: the display order
  std::map<std::string, double> connections;     // role -> open connections
  bool has_connections = false;
  std::size_t writers_alive = 0, processes_alive = 0;
  std::uint64_t series_used = 0, max_series = 0;
};

struct Options {
  std::string name;
  bool once = false;
  double interval = 1.0;
  std::string connections_gauge = "websocket_connections_active";
  std::string role_label = "role";
};

Sample sample(const Options& o, const shm::Segment& segment, const shm::CatalogView& catalog,
              const shm::Snapshot& snap) {
  Sample s;
  s.generation = snap.generation;
  s.mono_ns = snap.taken_mono_ns;
  s.unix_ns = snap.taken_unix_ns;
  s.series_used = snap.stats.series_used;
  s.max_series = segment.max_series();
  std::set<pid_t> pids;
  for (const shm::WriterInfo& w : snap.writers) {
    if (!w.alive || w.state != shm::SlotState::active) continue;
    ++s.writers_alive;
    pids.insert(w.pid);
  }
  s.processes_alive = pids.size();

  const auto aggregation = shm::Aggregation::of(catalog, snap);
  std::vector<std::pair<std::string, std::string>> labels;
  for (const shm::Point& p : aggregation.points) {
    const shm::FamilyInfo& f = *p.family;
    auto [it, fresh] = s.families.try_emplace(f.name);
    FamilySample& fs = it->second;
    if (fresh) fs = {f.name, f.type, f.unit, f.max_octave, 0, 0, {}};
    switch (f.type) {
      case shm::MetricType::counter: fs.total += p.counter; break;
      case shm::MetricType::gauge: fs.gauge += p.gauge; break;
      case shm::MetricType::histogram: {
        const auto counts = aggregation.buckets_of(p);
        fs.buckets.resize(counts.size(), 0);
        for (std::size_t i = 0; i < counts.size(); ++i) fs.buckets[i] += counts[i];
        fs.total += p.count;
        break;
      }
    }
    if (f.name == o.connections_gauge && f.type == shm::MetricType::gauge) {
      s.has_connections = true;
      std::string role = "(no " + o.role_label + ")";
      if (shm::parse_canonical_labels(p.series->labels, labels)) {
        for (const auto& [k, v] : labels) {
          if (k == o.role_label) role = v;
        }
      }
      s.connections[role] += p.gauge;
    }
  }
  return s;
}

// The frame's lines; `prev` (same generation) gives rates and interval percentiles.
std::vector<std::string> render(const Options& o, const Sample* prev, const Sample& cur, int width,
                                bool interactive) {
  if (prev != nullptr && prev->generation != cur.generation) prev = nullptr;
  const double seconds = prev != nullptr ? static_cast<double>(cur.mono_ns - prev->mono_ns) / 1e9 : 0;
  const auto previous = [&](const std::string& name) -> const FamilySample* {
    if (prev == nullptr) return nullptr;
    auto it = prev->families.find(name);
    return it != prev->families.end() && it->second.type == cur.families.at(name).type ? &it->second
                                                                                        : nullptr;
  };
  const auto rate = [&](const FamilySample& f) -> std::string {
    const FamilySample* p = previous(f.name);
    if (p == nullptr || seconds <= 0) return "-";
    return human_count(static_cast<double>(f.total - std::min(f.total, p->total)) / seconds);
  };
  // Layout for at least 60 columns; lines are cut to the real width at the end.
  const auto w = static_cast<std::size_t>(std::max(width, 60));

  std::vector<std::string> lines;
  const std::string head = "wsm top " + o.name + "  " + local_time(cur.unix_ns).substr(11) +
                           "  series " + std::to_string(cur.series_used) + "/" +
                           std::to_string(cur.max_series);
  lines.push_back(interactive && head.size() + 9 <= w ? fit(head, w - 7) + "q: quit" : head);
  lines.push_back("writers: " + std::to_string(cur.writers_alive) + " alive in " +
                  std::to_string(cur.processes_alive) + " process" +
                  (cur.processes_alive == 1 ? "" : "es"));
  if (!cur.has_connections) {
    lines.push_back("connections: none (no " + o.connections_gauge + " gauge)");
  } else {
    std::string c = "connections:";
    double total = 0;
    for (const auto& [role, n] : cur.connections) {
      c += " " + role + " " + human_count(n);
      total += n;
    }
    lines.push_back(c + "  (total " + human_count(total) + ")");
  }

  const std::size_t counter_name = w - 26, hist_name = w - 44, gauge_name = w - 14;
  std::vector<std::string> counters, histograms, gauges;
  for (const auto& [name, f] : cur.families) {
    switch (f.type) {
      case shm::MetricType::counter:
        counters.push_back(fit(name, counter_name) + right(rate(f), 12) + right(std::to_string(f.total), 14));
        break;
      case shm::MetricType::gauge:
        gauges.push_back(fit(name, gauge_name) + right(human_count(f.gauge), 14));
        break;
      case shm::MetricType::histogram: {
        // Percentiles of what was recorded in the last interval; all-time before there is one.
        std::vector<std::uint64_t> window = f.buckets;
        if (const FamilySample* p = previous(name); p != nullptr && p->buckets.size() == window.size()) {
          for (std::size_t i = 0; i < window.size(); ++i) window[i] -= std::min(window[i], p->buckets[i]);
        }
        std::string row = fit(name, hist_name) + right(rate(f), 11);
        for (double q : {0.50, 0.95, 0.99}) {
          const auto e = shm::quantile(shm::HistogramScheme{f.max_octave}, window, q);
          const std::string v = !e ? "-"
                                : e->saturated ? ">" + human_value(f.unit, static_cast<double>(e->lower))
                                               : human_value(f.unit, static_cast<double>(e->value));
          row += right(v, 11);
        }
        histograms.push_back(row);
        break;
      }
    }
  }
  const auto section = [&](const std::string& heading, std::vector<std::string>& rows) {
    if (rows.empty()) return;
    lines.emplace_back();
    lines.push_back(heading);
    lines.insert(lines.end(), rows.begin(), rows.end());
  };
  section(fit("COUNTER", counter_name) + right("RATE/s", 12) + right("TOTAL", 14), counters);
  section(fit("HISTOGRAM", hist_name) + right("RATE/s", 11) + right("P50", 11) + right("P95", 11) +
              right("P99", 11),
          histograms);
  section(fit("GAUGE", gauge_name) + right("VALUE", 14), gauges);
  if (cur.families.empty()) lines.push_back("(no series yet)");
  for (std::string& line : lines) {
    if (line.size() > static_cast<std::size_t>(width)) line.resize(static_cast<std::size_t>(width));
  }
  return lines;
}

std::string join(const std::vector<std::string>& lines, std::size_t max_rows) {
  std::string out;
  const std::size_t shown = lines.size() > max_rows ? max_rows - 1 : lines.size();
  for (std::size_t i = 0; i < shown; ++i) out += (i ? "\n" : "") + lines[i];
  if (shown < lines.size()) {
    out += "\n... " + std::to_string(lines.size() - shown) + " more lines (enlarge the terminal)";
  }
  return out;
}

// Snapshots the reader's segment; prints why on failure.
std::optional<Sample> take(const Options& o, SegmentReader& reader, std::string& error) {
  auto snap = reader.snapshot();
  if (!snap) {
    error = snap.error().message();
    return std::nullopt;
  }
  std::optional<Sample> s;
  {
    const auto guard = reader.guard();
    s = sample(o, reader.segment(), reader.catalog(), *snap);
  }
  if (auto damaged = reader.damaged()) {
    error = damaged->message();
    return std::nullopt;
  }
  error.clear();
  return s;
}

int run_once(const Options& o) {
  SegmentReader reader(o.name);
  std::string error;
  std::optional<Sample> first = take(o, reader, error);
  if (first) std::this_thread::sleep_for(std::chrono::duration<double>(o.interval));
  std::optional<Sample> second = first ? take(o, reader, error) : std::nullopt;
  if (!second) {
    std::fprintf(stderr, "wsm top: %s\n", error.c_str());
    return kProblem;
  }
  std::printf("%s\n", join(render(o, &*first, *second, 80, false), SIZE_MAX).c_str());
  return kOk;
}

int run_live(const Options& o) {
  Terminal terminal;
  SegmentReader reader(o.name);
  std::optional<Sample> prev, cur;
  std::string error;
  const auto draw = [&] {
    const TerminalSize size = terminal.size();
    std::vector<std::string> lines;
    if (!error.empty()) {
      lines = {"wsm top " + o.name + ": " + error, "(retrying every interval; q quits)"};
    } else {
      lines = render(o, prev ? &*prev : nullptr, *cur, size.columns, terminal.interactive());
    }
    terminal.draw(join(lines, terminal.interactive() ? static_cast<std::size_t>(size.rows) : SIZE_MAX));
  };
  const auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(o.interval));
  for (;;) {
    if (auto next = take(o, reader, error)) {
      prev = std::move(cur);
      cur = std::move(next);
    }
    draw();
    const auto deadline = std::chrono::steady_clock::now() + interval;
    for (;;) {
      if (Terminal::stop_requested()) return kOk;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      const auto key = terminal.wait_key(left);
      if (key == 'q' || key == 'Q') return kOk;
      // Woken early by a resize: redraw the same data at the new size now.
      if (!key && terminal.interactive() && std::chrono::steady_clock::now() < deadline) draw();
    }
  }
}

}  // namespace

void add_top(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("top", "Live view: rates, latency percentiles, connections, writers");
  cmd->footer("Rates per family from the deltas between refreshes, p50/p95/p99 of what histograms\n"
              "recorded in the last interval (from the HDR buckets: within 12.5%), open connections\n"
              "by role, writers alive. Keys: q quits (so do Ctrl-C and SIGTERM; the terminal is\n"
              "restored).\n"
              "exit codes: 0 ok, 1 the segment cannot be read (--once), 2 usage");
  auto opts = std::make_shared<Options>();
  add_segment_name(cmd, opts->name);
  cmd->add_flag("--once", opts->once,
                "take two snapshots one interval apart, print one frame and exit (for scripts)");
  cmd->add_option("--interval", opts->interval, "seconds between refreshes (default 1)")
      ->check(CLI::Range(0.05, 3600.0));
  cmd->add_option("--connections-gauge", opts->connections_gauge,
                  "gauge summed by role for the connections line (default websocket_connections_active)");
  cmd->add_option("--role-label", opts->role_label, "label that names the role (default role)");
  cmd->callback([opts, &exit_code] { exit_code = opts->once ? run_once(*opts) : run_live(*opts); });
}

}  // namespace wsm::cli
