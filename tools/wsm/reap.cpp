// wsm reap: fold dead writers of a segment into its retired arena and free their slots.
#include <cstdio>

#include "commands.hpp"
#include "wsm/shm/mapping_guard.hpp"
#include "wsm/shm/reaper.hpp"

namespace wsm::cli {

void add_reap(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("reap", "Fold dead writers' counts into the retired arena");
  cmd->footer("Frees the slots of dead writers, finishes a fold a dead reaper left half done and\n"
              "resets catalog entries left BUSY by dead registrants.\n"
              "exit codes: 0 done, 1 failed or some slot kept (retired arena full), 2 usage");
  static std::string name;
  add_segment_name(cmd, name);
  cmd->callback([&exit_code] {
    auto segment = shm::Segment::open(name, {shm::Access::read_write, std::chrono::milliseconds(500)});
    if (!segment) {
      std::fprintf(stderr, "wsm reap: %s\n", segment.error().message().c_str());
      exit_code = kProblem;
      return;
    }
    shm::MappingDamage damage;
    auto report = [&] {
      const shm::MappingGuard guard(*segment, damage);
      return shm::Reaper(*segment).reap();
    }();
    if (damage.damaged()) report = std::unexpected(shm::damaged_segment_error(*segment));
    if (!report) {
      std::fprintf(stderr, "wsm reap: %s\n", report.error().message().c_str());
      exit_code = kProblem;
      return;
    }
    std::printf("freed %u writer slot(s), kept %u (retired arena full), reset %u claim(s), "
                "recovered %u catalog entr(ies), freed %u process record(s), moved %llu word(s)%s\n",
                report->slots_freed, report->slots_kept, report->claims_reset,
                report->entries_recovered, report->processes_freed,
                static_cast<unsigned long long>(report->words_moved),
                report->journal_replayed ? ", finished an interrupted fold" : "");
    if (report->slots_kept > 0) exit_code = kProblem;
  });
}

}  // namespace wsm::cli
