// wsm inspect: what a segment holds and how full it is: header, limits and usage, writers,
// families with their series counts and the label names that make them many, and warnings when
// anything nears its cap.
//
// The JSON document is the model; the text form is rendered from it, so both always agree.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "format.hpp"
#include "segment_reader.hpp"
#include "wsm/shm/aggregation.hpp"
#include "wsm/shm/capacity.hpp"
#include "wsm/shm/connection_table.hpp"
#include "wsm/shm/labels.hpp"
#include "wsm/shm/reaper.hpp"

namespace wsm::cli {

namespace {

using json = nlohmann::ordered_json;  // keys in the order written: the text form follows it

constexpr double kWarnPercent = shm::kNearFullPercent;
constexpr std::size_t kTopLabels = 3;

json usage(std::uint64_t used, std::uint64_t capacity) {
  return {{"used", used}, {"capacity", capacity}, {"percent", percent_of(used, capacity)}};
}

// Per label name of one family: how many series use each value.
using LabelValues = std::map<std::string, std::map<std::string, std::uint32_t>>;

json label_cardinality(const LabelValues& names) {
  json out = json::array();
  for (const auto& [name, values] : names) {
    std::vector<std::pair<std::string, std::uint32_t>> top(values.begin(), values.end());
    std::stable_sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    json t = json::array();
    for (std::size_t i = 0; i < top.size() && i < kTopLabels; ++i) {
      t.push_back({{"value", top[i].first}, {"series", top[i].second}});
    }
    out.push_back({{"name", name}, {"values", values.size()}, {"top", std::move(t)}});
  }
  std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return a["values"].get<std::size_t>() > b["values"].get<std::size_t>();
  });
  return out;
}

json families(const shm::CatalogView& catalog, const shm::Aggregation& aggregation,
              const std::vector<shm::Fill>& fill) {
  std::map<std::uint32_t, LabelValues> labels;
  std::map<std::uint32_t, bool> overflowed;
  std::map<std::uint32_t, std::uint64_t> with_exemplar;  // points that carry one (counters, histograms)
  std::vector<std::pair<std::string, std::string>> parsed;
  for (std::uint32_t id : catalog.ordered_series()) {
    const shm::SeriesInfo& s = *catalog.series(id);
    if (s.overflow) continue;
    if (!shm::parse_canonical_labels(s.labels, parsed)) continue;
    for (const auto& [k, v] : parsed) ++labels[s.family_id][k][v];
  }
  // Aggregation lists an overflow series only once something was recorded into it.
  for (const shm::Point& p : aggregation.points) {
    if (p.series->overflow) overflowed[p.family->id] = true;
    if (p.exemplar != shm::Point::kNoExemplar) ++with_exemplar[p.family->id];
  }
  json out = json::array();
  for (std::size_t i = 0; i < catalog.family_ids().size(); ++i) {
    const std::uint32_t id = catalog.family_ids()[i];
    const shm::FamilyInfo& f = *catalog.family(id);
    const std::uint64_t n = fill[i].used;  // segment_fill lists families in catalog order
    out.push_back({{"name", f.name},
                   {"type", shm::metric_type_name(f.type)},
                   {"mode", f.type == shm::MetricType::gauge ? json(gauge_mode_name(f.gauge_mode)) : json()},
                   {"unit", std::string(shm::unit_suffix(f.unit))},
                   {"help", f.help},
                   {"series", n},
                   {"cap", f.series_cap},
                   {"cap_percent", percent_of(n, f.series_cap)},
                   {"overflowed", overflowed[id]},
                   {"series_with_exemplar", with_exemplar[id]},
                   {"labels", label_cardinality(labels[id])}});
  }
  return out;
}

// Who holds the reap lock: the kernel says whether a running process does; the pid it wrote is the
// holder's own view of itself (another pid namespace may number it differently).
json reap_lock(const shm::Segment& segment) {
  const shm::SegmentHeader& h = segment.header();
  const shm::Liveness held = shm::reap_lock_holder(segment);
  return {{"held", held == shm::Liveness::alive},
          {"holder_pid", held == shm::Liveness::alive ? json(h.reaper.load(std::memory_order_relaxed)) : json()},
          {"fold_under_way", h.reap_seq.load(std::memory_order_relaxed) % 2 == 1}};
}

json writers(const shm::Snapshot& snap) {
  json out = json::array();
  for (const shm::WriterInfo& w : snap.writers) {
    const bool beat = w.heartbeat_ns != 0 && w.heartbeat_ns <= snap.taken_mono_ns;
    out.push_back({{"slot", w.slot},
                   {"pid", w.pid},
                   {"tid", w.tid},
                   {"state", shm::slot_state_name(w.state)},
                   {"alive", w.alive},
                   {"liveness", shm::liveness_name(w.liveness)},
                   {"process_record", w.owner.process},
                   {"heartbeat_age_seconds",
                    beat ? json(static_cast<double>(snap.taken_mono_ns - w.heartbeat_ns) / 1e9) : json()},
                   {"cells_bytes", w.cells_bytes},
                   {"role", w.role}});
  }
  return out;
}

json warnings(const json& doc) {
  json out = json::array();
  for (const auto& [what, u] : doc["usage"].items()) {
    if (u["percent"].get<double>() >= kWarnPercent) {
      out.push_back("segment " + what + " " + percent(u["used"], u["capacity"]) + " used (" +
                    std::to_string(u["used"].get<std::uint64_t>()) + " of " +
                    std::to_string(u["capacity"].get<std::uint64_t>()) + "): " +
                    std::string(shm::region_remedy(what)));
    }
  }
  const json& d = doc["drops"];
  const std::pair<const char*, const char*> drops[] = {
      {"series_dropped", "label sets went to an overflow series or were lost"},
      {"cells_dropped", "cells did not fit a writer arena (raise Limits::arena_bytes)"},
      {"writers_dropped", "threads found no free writer slot (raise Limits::max_writers)"},
      {"retired_dropped", "dead writers' cells did not fit the retired arena (raise Limits::retired_bytes)"}};
  for (const auto& [key, meaning] : drops) {
    if (d[key].get<std::uint64_t>() > 0) {
      out.push_back(std::to_string(d[key].get<std::uint64_t>()) + " " + meaning);
    }
  }
  for (const json& f : doc["families"]) {
    const std::string name = f["name"];
    if (f["cap_percent"].get<double>() >= kWarnPercent) {
      out.push_back("family " + name + ": " + std::to_string(f["series"].get<std::uint64_t>()) +
                    " series of its cap " + std::to_string(f["cap"].get<std::uint32_t>()) + " (" +
                    percent(f["series"], f["cap"]) +
                    "); new label sets go to its overflow series {wsm_overflow=\"true\"}");
    }
    if (f["overflowed"].get<bool>()) {
      out.push_back("family " + name + ": its overflow series holds data: some label sets were merged");
    }
  }
  if (const json& f = doc["file"]; f.is_object() && (std::stoul(f["mode"].get<std::string>(), nullptr, 8) & 0007) != 0) {
    out.push_back("segment file mode " + f["mode"].get<std::string>() +
                  " lets every user of the host access it (labels may name users and patients): "
                  "create it 0600, or 0640 with a group (RegistryOptions::group, WSM_SEGMENT_GROUP)");
  }
  for (const json& p : doc["problems"]) out.push_back(p.get<std::string>());
  return out;
}

// The connection table's live records (the WebSocket facade writes them). `id` is the connection
// id as recorded (wsm-exporter's under --id-labels raw), `record_id` the one wsm-exporter shows
// under --id-labels drop (shm::format_record_id), so either finds the connection in its API.
json connections(const shm::Segment& segment) {
  json out = json::array();
  for (const shm::ConnectionInfo& c : shm::list_connections(segment)) {
    out.push_back({{"id", shm::format_connection_id(c.id)}, {"record_id", shm::format_record_id(shm::record_id(c))},
                   {"pid", c.pid}, {"role", c.role},
                   {"user_id", c.user_id}, {"patient_id", c.patient_id},
                   {"opened", local_time(c.opened_unix_ns)}, {"messages_in", c.messages_in},
                   {"messages_out", c.messages_out}, {"bytes_in", c.bytes_in},
                   {"bytes_out", c.bytes_out}, {"health_score", c.health_score}});
  }
  return out;
}

// Who may read the segment: its file's owner, group and mode.
json file_json(const shm::Segment& segment) {
  auto owner = segment.file_owner();
  if (!owner) return json();
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", owner->mode);
  return {{"mode", mode}, {"uid", owner->uid}, {"gid", owner->gid}};
}

json describe(const shm::Segment& segment, const shm::CatalogView& catalog, const shm::Snapshot& snap) {
  const shm::SegmentHeader& h = segment.header();
  const shm::Limits& l = segment.limits();
  const shm::HeaderStats& st = snap.stats;
  const auto aggregation = shm::Aggregation::of(catalog, snap);
  const shm::SegmentFill fill = shm::segment_fill(segment, catalog, snap);
  json usage_doc = json::object();
  for (const shm::Fill& f : fill.regions) usage_doc[f.name] = usage(f.used, f.capacity);
  json problems = json::array();
  for (const auto& p : catalog.problems()) problems.push_back(p);
  for (const auto& p : snap.problems) problems.push_back(p);
  json doc = {
      {"segment", segment.name()},
      {"path", "/dev/shm/wsm." + segment.name()},
      {"layout_version", h.layout_version},
      {"layout_hash", hex64(h.layout_hash)},
      {"generation", hex64(snap.generation)},
      {"created_unix_ns", st.created_unix_ns},
      {"created", local_time(st.created_unix_ns)},
      {"creator_pid", h.creator_pid},
      {"file", file_json(segment)},
      {"total_bytes", st.total_bytes},
      {"limits",
       {{"max_writers", l.max_writers}, {"max_families", l.max_families}, {"max_series", l.max_series},
        {"series_cap_per_family", l.series_cap_per_family}, {"arena_bytes", l.arena_bytes},
        {"string_bytes", l.string_bytes}, {"retired_bytes", l.retired_bytes},
        {"max_connections", l.max_connections}}},
      {"usage", std::move(usage_doc)},
      {"drops",
       {{"series_dropped", st.series_dropped}, {"cells_dropped", st.cells_dropped},
        {"writers_dropped", st.writers_dropped}, {"retired_dropped", st.retired_dropped},
        {"writers_reaped", st.writers_reaped}}},
      {"reap_lock", reap_lock(segment)},
      {"writers", writers(snap)},
      {"families", families(catalog, aggregation, fill.families)},
      {"problems", std::move(problems)}};
  doc["warnings"] = warnings(doc);
  return doc;
}

std::string str(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  return v.dump();
}

void print_text(const json& doc) {
  std::printf("segment %s (%s, %s)\n", str(doc["segment"]).c_str(), str(doc["path"]).c_str(),
              human_bytes(doc["total_bytes"].get<double>()).c_str());
  std::printf("  layout version %s, layout hash %s, generation %s\n", str(doc["layout_version"]).c_str(),
              str(doc["layout_hash"]).c_str(), str(doc["generation"]).c_str());
  std::printf("  created %s by pid %s\n", str(doc["created"]).c_str(), str(doc["creator_pid"]).c_str());
  if (const json& f = doc["file"]; f.is_object()) {
    std::printf("  file mode %s, uid %s, gid %s\n", str(f["mode"]).c_str(), str(f["uid"]).c_str(),
                str(f["gid"]).c_str());
  }
  std::printf("\n");

  std::printf("%-26s %12s %12s %7s\n", "USAGE", "USED", "CAPACITY", "%");
  for (const auto& [what, u] : doc["usage"].items()) {
    const bool bytes = what.ends_with("bytes");
    const auto show = [&](const json& v) {
      return bytes ? human_bytes(v.get<double>()) : std::to_string(v.get<std::uint64_t>());
    };
    std::printf("%-26s %12s %12s %7s%s\n", what.c_str(), show(u["used"]).c_str(),
                show(u["capacity"]).c_str(), percent(u["used"], u["capacity"]).c_str(),
                u["percent"].get<double>() >= kWarnPercent ? "  !" : "");
  }
  const json& d = doc["drops"];
  if (const json& r = doc["reap_lock"]; r["held"].get<bool>()) {
    std::printf("reap lock: held by a running process (pid %s in its own namespace)%s\n",
                str(r["holder_pid"]).c_str(), r["fold_under_way"].get<bool>() ? ", folding" : "");
  } else if (r["fold_under_way"].get<bool>()) {
    std::printf("reap lock: free, but a fold was left half done (its reaper died); the next reap finishes it\n");
  }
  std::printf("drops: series %s (to overflow), cells %s, writers %s, retired cells %s; writers reaped %s\n\n",
              str(d["series_dropped"]).c_str(), str(d["cells_dropped"]).c_str(),
              str(d["writers_dropped"]).c_str(), str(d["retired_dropped"]).c_str(),
              str(d["writers_reaped"]).c_str());

  std::printf("WRITERS (%zu)\n%5s %8s %8s %-9s %-7s %9s %9s  %s\n", doc["writers"].size(), "SLOT", "PID",
              "TID", "STATE", "PROCESS", "HEARTBEAT", "CELLS", "ROLE");
  for (const json& w : doc["writers"]) {
    const json& age = w["heartbeat_age_seconds"];
    std::printf("%5s %8s %8s %-9s %-7s %9s %9s  %s\n", str(w["slot"]).c_str(), str(w["pid"]).c_str(),
                w["tid"].get<std::uint32_t>() == 0 ? "gauges" : str(w["tid"]).c_str(),
                str(w["state"]).c_str(), str(w["liveness"]).c_str(),
                age.is_null() ? "-" : (human_duration_ns(age.get<double>() * 1e9) + " ago").c_str(),
                human_bytes(w["cells_bytes"].get<double>()).c_str(), str(w["role"]).c_str());
  }

  std::printf("\nFAMILIES (%zu)\n%-40s %-9s %-10s %-7s %6s %6s %6s\n", doc["families"].size(), "NAME",
              "TYPE", "MODE", "UNIT", "SERIES", "CAP", "%");
  for (const json& f : doc["families"]) {
    const std::string unit = str(f["unit"]);
    std::printf("%s %-9s %-10s %-7s %6s %6s %6s%s\n", fit(str(f["name"]), 40).c_str(),
                str(f["type"]).c_str(), str(f["mode"]).c_str(), unit.empty() ? "-" : unit.c_str(),
                str(f["series"]).c_str(), str(f["cap"]).c_str(), percent(f["series"], f["cap"]).c_str(),
                f["cap_percent"].get<double>() >= kWarnPercent ? "  !" : "");
    std::string line;
    for (std::size_t i = 0; i < f["labels"].size() && i < kTopLabels; ++i) {
      const json& l = f["labels"][i];
      line += (i ? "; " : "") + str(l["name"]) + " " + str(l["values"]) + " value" +
              (l["values"].get<std::size_t>() == 1 ? "" : "s") + " (";
      for (std::size_t k = 0; k < l["top"].size(); ++k) {
        line += (k ? ", " : "") + str(l["top"][k]["value"]) + " " + str(l["top"][k]["series"]);
      }
      line += l["values"].get<std::size_t>() > l["top"].size() ? ", ...)" : ")";
    }
    if (f["labels"].size() > kTopLabels) line += "; +" + std::to_string(f["labels"].size() - kTopLabels) + " more";
    if (!line.empty()) std::printf("    labels: %s\n", line.c_str());
    if (f["series_with_exemplar"].get<std::uint64_t>() > 0) {
      std::printf("    exemplars: %s series (`wsm dump` shows them)\n", str(f["series_with_exemplar"]).c_str());
    }
  }

  const json& warn = doc["warnings"];
  if (warn.empty()) {
    std::printf("\nno warnings\n");
  } else {
    std::printf("\nWARNINGS (%zu)\n", warn.size());
    for (const json& w : warn) std::printf("  ! %s\n", w.get<std::string>().c_str());
  }
}

void print_connections(const json& list) {
  std::printf("\nCONNECTIONS (%zu)\n%-16s %-18s %-15s %-12s %-12s %8s %8s %10s %10s %6s\n", list.size(), "ID",
              "RECORD ID", "ROLE", "USER", "PATIENT", "MSG IN", "MSG OUT", "BYTES IN", "BYTES OUT", "HEALTH");
  for (const json& c : list) {
    std::printf("%-16s %-18s %-15s %s %s %8s %8s %10s %10s %6.1f\n", str(c["id"]).c_str(),
                str(c["record_id"]).c_str(), str(c["role"]).c_str(),
                fit(str(c["user_id"]), 12).c_str(), fit(str(c["patient_id"]), 12).c_str(),
                str(c["messages_in"]).c_str(), str(c["messages_out"]).c_str(),
                human_bytes(c["bytes_in"].get<double>()).c_str(),
                human_bytes(c["bytes_out"].get<double>()).c_str(), c["health_score"].get<double>());
  }
}

struct Options {
  std::string name;
  bool json = false;
  bool connections = false;
};

}  // namespace

void add_inspect(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("inspect", "Header, usage, writers, families and label cardinality");
  cmd->footer("Shows the header, limits and usage, the writers, the families with their series count\n"
              "and the label names with the most values, and warns when a family or the segment nears\n"
              "its cap (>= 80%). --connections lists the connection table's live connections.\n"
              "exit codes: 0 shown (warnings included), 1 the segment cannot be read, 2 usage");
  auto opts = std::make_shared<Options>();
  add_segment_name(cmd, opts->name);
  cmd->add_flag("--json", opts->json, "print the same content as one JSON document");
  cmd->add_flag("--connections", opts->connections, "also list the live connections (connection table)");
  cmd->callback([opts, &exit_code] {
    SegmentReader reader(opts->name);
    auto snap = reader.snapshot();
    if (!snap) {
      std::fprintf(stderr, "wsm inspect: %s\n", snap.error().message().c_str());
      exit_code = kProblem;
      return;
    }
    json doc;
    {
      const auto guard = reader.guard();
      doc = describe(reader.segment(), reader.catalog(), *snap);
      if (opts->connections) doc["connections"] = connections(reader.segment());
    }
    if (auto damaged = reader.damaged()) {
      std::fprintf(stderr, "wsm inspect: %s\n", damaged->message().c_str());
      exit_code = kProblem;
      return;
    }
    if (opts->json) {
      std::cout << doc.dump(2) << '\n';
    } else {
      print_text(doc);
      if (opts->connections) print_connections(doc["connections"]);
    }
  });
}

}  // namespace wsm::cli
