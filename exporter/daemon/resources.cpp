#include "wsm/exporter/resources.hpp"

#include <map>

#include "wsm/shm/labels.hpp"

namespace wsm::exporter {

namespace {

std::string labels_of(std::initializer_list<Label> labels) {
  auto canonical = shm::canonical_labels(std::span<const Label>(labels.begin(), labels.size()));
  return canonical ? std::move(*canonical) : std::string();
}

exposition::ComputedFamily gauge(std::string_view name, std::string_view help) {
  return {std::string(name), std::string(help), shm::MetricType::gauge, {}};
}

void add_sums(exposition::ComputedFamily& f, const std::map<std::string, double>& sums) {
  for (const auto& [labels, value] : sums) f.samples.push_back({labels, value});
}

}  // namespace

namespace {

// One reading of a process, with the CPU time it had used by `at_ns` (CLOCK_MONOTONIC).
struct Reading {
  ProcessFigures figures;
  std::uint64_t cpu_ns = 0, at_ns = 0;
};

std::optional<Reading> from_proc(std::optional<shm::ProcessStat> stat, std::uint64_t now_ns) {
  if (!stat) return std::nullopt;  // exited since it was listed
  Reading r;
  r.figures.source = "proc";
  r.figures.rss_bytes = stat->rss_bytes;
  r.figures.virtual_bytes = stat->virtual_bytes;
  r.figures.threads = stat->threads;
  r.figures.fds = stat->fds;
  r.cpu_ns = stat->cpu_ticks * (1'000'000'000ull / static_cast<std::uint64_t>(shm::clock_ticks_per_second()));
  r.at_ns = now_ns;
  return r;
}

std::optional<Reading> from_record(const shm::PublishedFigures& f) {
  if (f.sampled_ns == 0) return std::nullopt;  // never published (no heartbeat() yet)
  Reading r;
  r.figures.source = "published";
  r.figures.rss_bytes = f.rss_bytes;
  r.figures.virtual_bytes = f.virtual_bytes;
  r.figures.threads = static_cast<std::uint32_t>(f.threads);
  r.figures.fds = shm::FdCounts{f.fd_sockets, f.fd_pipes, f.fd_files, f.fd_other};
  r.cpu_ns = f.cpu_ns;
  r.at_ns = f.sampled_ns;
  return r;
}

// The one place that decides where a process's figures come from.
std::optional<Reading> read(const WatchedProcess& w, std::uint64_t now_ns) {
  if (w.exporter) return from_proc(shm::read_own_process(true), now_ns);
  if (shm::visible_in_own_proc(w.process)) return from_proc(shm::read_process(w.process.pid, true), now_ns);
  return from_record(w.process.figures);
}

}  // namespace

void ResourceMonitor::update(std::span<const WatchedProcess> processes, std::uint64_t mono_ns) {
  std::unordered_map<std::uint64_t, Previous> seen;
  processes_.clear();
  for (const WatchedProcess& w : processes) {
    auto reading = read(w, mono_ns);
    if (!reading) continue;
    ProcessFigures f = std::move(reading->figures);
    f.pid = w.process.pid;
    f.role = w.process.role;
    f.exporter = w.exporter;
    const std::uint64_t key =
        w.exporter ? kSelf : (std::uint64_t{w.process.owner.process} << 32 | w.process.owner.tenant);
    Previous now{reading->cpu_ns, reading->at_ns, std::nullopt};
    if (const auto it = previous_.find(key); it != previous_.end()) {
      if (reading->at_ns == it->second.at_ns) {
        now = it->second;  // not sampled again since (published once a second): the last figure
      } else if (reading->at_ns > it->second.at_ns && reading->cpu_ns >= it->second.cpu_ns) {
        now.cpu_percent = 100.0 * static_cast<double>(reading->cpu_ns - it->second.cpu_ns) /
                          static_cast<double>(reading->at_ns - it->second.at_ns);
      }
    }
    f.cpu_percent = now.cpu_percent;
    seen[key] = now;
    processes_.push_back(std::move(f));
  }
  previous_ = std::move(seen);
}

void ResourceMonitor::append_families(const ResourceRule& rule,
                                      std::vector<exposition::ComputedFamily>& out) const {
  std::map<std::string, double> cpu, memory, fds;
  auto cpu_detail = gauge("wsm_writer_cpu_percent", "CPU of each live writer process over the last interval (100 = one core)");
  auto mem_detail = gauge("wsm_writer_memory_bytes", "Memory of each live writer process");
  auto fd_detail = gauge("wsm_writer_open_fds", "Open file descriptors of each live writer process");
  auto thread_detail = gauge("wsm_writer_threads", "Threads of each live writer process");
  auto self_cpu = gauge("wsm_exporter_cpu_percent", "CPU of the exporter over the last interval (100 = one core)");
  auto self_mem = gauge("wsm_exporter_memory_bytes", "Memory of the exporter");
  auto self_fds = gauge("wsm_exporter_open_fds", "Open file descriptors of the exporter");
  auto self_threads = gauge("wsm_exporter_threads", "Threads of the exporter");
  for (const ProcessFigures& p : processes_) {
    const std::string_view type = p.exporter ? "exporter" : "worker";
    const std::string pid = std::to_string(p.pid);
    const auto rss = static_cast<double>(p.rss_bytes);
    const auto virt = static_cast<double>(p.virtual_bytes);
    if (p.cpu_percent) cpu[labels_of({{"process_type", type}, {"role", p.role}})] += *p.cpu_percent;
    memory[labels_of({{"memory_type", "rss"}, {"role", p.role}})] += rss;
    memory[labels_of({{"memory_type", "virtual"}, {"role", p.role}})] += virt;
    if (p.exporter) {
      if (p.cpu_percent) self_cpu.samples.push_back({"", *p.cpu_percent});
      self_mem.samples.push_back({labels_of({{"memory_type", "rss"}}), rss});
      self_mem.samples.push_back({labels_of({{"memory_type", "virtual"}}), virt});
      if (p.fds) self_fds.samples.push_back({"", static_cast<double>(p.fds->total())});
      self_threads.samples.push_back({"", static_cast<double>(p.threads)});
      continue;
    }
    const std::string id = labels_of({{"pid", pid}, {"role", p.role}});
    if (p.cpu_percent) cpu_detail.samples.push_back({id, *p.cpu_percent});
    mem_detail.samples.push_back({labels_of({{"memory_type", "rss"}, {"pid", pid}, {"role", p.role}}), rss});
    mem_detail.samples.push_back({labels_of({{"memory_type", "virtual"}, {"pid", pid}, {"role", p.role}}), virt});
    thread_detail.samples.push_back({id, static_cast<double>(p.threads)});
    if (p.fds) {
      fd_detail.samples.push_back({id, static_cast<double>(p.fds->total())});
      fds[labels_of({{"type", "socket"}})] += p.fds->socket;
      fds[labels_of({{"type", "pipe"}})] += p.fds->pipe;
      fds[labels_of({{"type", "file"}})] += p.fds->file;
      fds[labels_of({{"type", "other"}})] += p.fds->other;
    }
  }
  add_sums(out.emplace_back(gauge(rule.cpu, rule.cpu_help)), cpu);
  add_sums(out.emplace_back(gauge(rule.memory, rule.memory_help)), memory);
  add_sums(out.emplace_back(gauge(rule.fds, rule.fds_help)), fds);
  for (auto* f : {&cpu_detail, &mem_detail, &fd_detail, &thread_detail, &self_cpu, &self_mem, &self_fds,
                  &self_threads}) {
    out.push_back(std::move(*f));
  }
}

}  // namespace wsm::exporter
