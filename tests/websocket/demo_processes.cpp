#include "demo_processes.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace wsm::test {

DemoServer::DemoServer(const std::string& segment, int workers, std::vector<std::string> extra_args)
    : port_(free_port()) {
  std::vector<std::string> argv = {bin("wsm-demo-server"), "--port", std::to_string(port_), "--workers",
                                   std::to_string(workers), "--segment", segment};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  child_.emplace(Child::spawn(argv));
  EXPECT_TRUE(wait_for_http(port_, "/healthz")) << "wsm-demo-server did not answer on port " << port_;
  // Every worker runs (the listeners all exist before the parent forks).
  EXPECT_TRUE(eventually([&] { return static_cast<int>(this->workers().size()) == workers; }));
}

DemoServer::~DemoServer() {
  if (!child_) return;
  if (!stop()) {
    for (pid_t w : workers()) ::kill(w, SIGKILL);
  }
}

std::vector<pid_t> DemoServer::workers() const { return children_of(child_->pid()); }

std::optional<int> DemoServer::stop() {
  child_->signal(SIGTERM);
  return child_->wait(std::chrono::seconds(15));
}

std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream in(task.path() / "children");
    for (pid_t child; in >> child;) out.push_back(child);
  }
  return out;
}

char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return 0;
  const auto close = stat.rfind(')');  // the command name may hold spaces and parentheses
  return close != std::string::npos && close + 2 < stat.size() ? stat[close + 2] : 0;
}

bool running(pid_t pid) {
  const char s = process_state(pid);
  return s != 0 && s != 'Z' && s != 'X';
}

LoadResult run_loadgen(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {bin("wsm-loadgen")};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult r = run(argv, {}, timeout);
  LoadResult out;
  out.exit_code = r.exit_code;
  out.err = r.err;
  out.summary = nlohmann::json::parse(r.out, nullptr, false);
  return out;
}

Totals::Totals(const std::string& segment) {
  const CommandResult r = run({bin("wsm"), "dump", "--json", segment});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json_ = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_TRUE(json_.is_object()) << r.out;
}

double Totals::sum(const std::string& name, const std::function<bool(const nlohmann::json&)>& where) const {
  double total = 0;
  if (!json_.is_object()) return total;
  for (const auto& s : json_["series"]) {
    if (s["name"] != name || (where && !where(s["labels"]))) continue;
    total += s["type"] == "histogram" ? s["count"].get<double>() : s["value"].get<double>();
  }
  return total;
}

bool eventually(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace wsm::test
