// Every subcommand explains itself and its exit codes; bad usage exits 2.
#include <gtest/gtest.h>

#include "cli_fixture.hpp"

namespace wsm::test {
namespace {

TEST(Help, EverySubcommandDocumentsItsExitCodes) {
  for (const char* command : {"ls", "reap", "inspect", "top", "check", "rm"}) {
    auto r = wsm({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.out.find("exit codes: 0 "), std::string::npos) << command << ":\n" << r.out;
    EXPECT_NE(r.out.find("2 usage"), std::string::npos) << command << ":\n" << r.out;
  }
  EXPECT_EQ(wsm({"no-such-command"}).exit_code, 2);
  EXPECT_EQ(wsm({"rm", "--no-such-flag", "x"}).exit_code, 2);
}

}  // namespace
}  // namespace wsm::test
