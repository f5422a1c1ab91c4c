#include "resources.hpp"

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

void ResourceMonitor::update(std::span<const WatchedProcess> processes, std::uint64_t mono_ns) {
  std::unordered_map<pid_t, Previous> seen;
  processes_.clear();
  for (const WatchedProcess& w : processes) {
    const auto stat = read_process(w.pid, true);
    if (!stat) continue;  // exited since the snapshot
    ProcessFigures f{w.pid, w.role, w.exporter, std::nullopt, stat->rss_bytes, stat->virtual_bytes,
                     stat->threads, stat->fds};
    if (const auto it = previous_.find(w.pid);
        it != previous_.end() && it->second.start_ticks == stat->start_ticks && mono_ns > it->second.mono_ns &&
        stat->cpu_ticks >= it->second.cpu_ticks) {
      const double cpu_s = static_cast<double>(stat->cpu_ticks - it->second.cpu_ticks) /
                           static_cast<double>(clock_ticks_per_second());
      f.cpu_percent = 100.0 * cpu_s / (static_cast<double>(mono_ns - it->second.mono_ns) / 1e9);
    }
    seen[w.pid] = {stat->start_ticks, stat->cpu_ticks, mono_ns};
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
