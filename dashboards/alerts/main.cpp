// wsm-alerts: renders the Prometheus alert rules from the WEBSOCKET_*_THRESHOLD environment.
#include <CLI/CLI.hpp>

#include "wsm/alerts/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"wsm-alerts: Prometheus rules for wsmetrics from the WEBSOCKET_*_THRESHOLD variables\n"
               "exit codes: 0 ok, 1 a problem, 2 usage or a bad threshold"};
  app.require_subcommand(1);
  int exit_code = 0;
  wsm::alerts::add_alerts_commands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return exit_code;
}
