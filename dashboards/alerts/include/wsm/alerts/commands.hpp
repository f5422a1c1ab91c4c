// The `render`, `thresholds` and `catalogue` commands, registered on any CLI11 app: the root of `wsm-alerts`,
// or an `alerts` subcommand of `wsm`.
#pragma once

#include <CLI/CLI.hpp>

namespace wsm::alerts {

// Exit codes as in `wsm`: 0 ok, 1 a problem (cannot write the file), 2 usage or a bad threshold.
void add_alerts_commands(CLI::App& parent, int& exit_code);

}  // namespace wsm::alerts
