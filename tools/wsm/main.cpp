// wsm: inspect wsmetrics shared-memory segments on this host.
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "wsm/alerts/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"wsm: look inside wsmetrics shared-memory segments (/dev/shm/wsm.<name>)\n"
               "exit codes: 0 ok, 1 a finding or a problem, 2 usage"};
  app.require_subcommand(1);
  int exit_code = wsm::cli::kOk;
  wsm::cli::add_ls(app, exit_code);
  wsm::cli::add_dump(app, exit_code);
  wsm::cli::add_reap(app, exit_code);
  wsm::cli::add_inspect(app, exit_code);
  wsm::cli::add_top(app, exit_code);
  wsm::cli::add_check(app, exit_code);
  wsm::cli::add_rm(app, exit_code);
  auto* alerts = app.add_subcommand("alerts", "Prometheus alert rules rendered from the WEBSOCKET_* thresholds");
  alerts->require_subcommand(1);
  wsm::alerts::add_alerts_commands(*alerts, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : wsm::cli::kUsage;
  }
  return exit_code;
}
