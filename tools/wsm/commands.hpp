// The subcommands of `wsm`. Each registers itself on the CLI11 app and returns the exit code
// through `exit_code`: 0 ok, 1 a finding or a problem, 2 usage.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace wsm::cli {

inline constexpr int kOk = 0;
inline constexpr int kProblem = 1;
inline constexpr int kUsage = 2;

// The NAME positional every per-segment subcommand takes.
inline CLI::Option* add_segment_name(CLI::App* cmd, std::string& name) {
  return cmd->add_option("name", name, "segment name (as in /dev/shm/wsm.<name>)")->required();
}

void add_ls(CLI::App& app, int& exit_code);
void add_dump(CLI::App& app, int& exit_code);
void add_reap(CLI::App& app, int& exit_code);
void add_inspect(CLI::App& app, int& exit_code);
void add_top(CLI::App& app, int& exit_code);
void add_check(CLI::App& app, int& exit_code);
void add_rm(CLI::App& app, int& exit_code);

}  // namespace wsm::cli
