// wsm rm: remove a segment, unless writers that still run have it mapped (then --force).
//
// Removing unlinks /dev/shm/wsm.<name>; processes that have it mapped keep writing into the
// unlinked copy, which nobody reads any more, and the next Registry::open creates a new one. So a
// segment with live writers is kept unless the operator insists.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "segment_reader.hpp"

namespace wsm::cli {

namespace {

struct Options {
  std::string name;
  bool force = false;
};

// Why the segment must stay (an exit code, the reason printed), or nullopt to go ahead. The
// segment is unmapped again when this returns, before it is unlinked.
std::optional<int> refusal(const Options& o) {
  auto segment = open_read_only(o.name);
  if (!segment) {
    switch (segment.error().code()) {
      case Errc::invalid_argument:
        std::fprintf(stderr, "wsm rm: %s\n", segment.error().message().c_str());
        return kUsage;
      case Errc::not_found:
      case Errc::permission:
        std::fprintf(stderr, "wsm rm: %s\n", segment.error().message().c_str());
        return kProblem;
      case Errc::timeout:
        return std::nullopt;  // never initialised: no writer can have attached to it
      default:
        if (o.force) return std::nullopt;
        std::fprintf(stderr,
                     "wsm rm: refusing: cannot read the writer table of segment '%s' to see "
                     "whether writers are attached (%s); use --force to remove it anyway\n",
                     o.name.c_str(), segment.error().message().c_str());
        return kProblem;
    }
  }
  const auto writers = attached_writers(*segment);
  if (writers.empty() || o.force) return std::nullopt;
  std::string who;
  for (const AttachedWriter& w : writers) {
    who += (who.empty() ? "" : ", ") + std::string("pid ") + std::to_string(w.pid) +
           (w.role.empty() ? "" : " (" + w.role + ")");
  }
  std::fprintf(stderr,
               "wsm rm: refusing: segment '%s' has %zu live writer process%s attached: %s.\n"
               "Stop them first, or use --force (they keep recording into the removed "
               "segment, which nobody reads).\n",
               o.name.c_str(), writers.size(), writers.size() == 1 ? "" : "es", who.c_str());
  return kProblem;
}

int remove_segment(const Options& o) {
  if (const auto refused = refusal(o)) return *refused;
  if (auto removed = shm::Segment::remove(o.name); !removed) {
    std::fprintf(stderr, "wsm rm: %s\n", removed.error().message().c_str());
    return kProblem;
  }
  std::printf("removed segment '%s' (/dev/shm/wsm.%s)\n", o.name.c_str(), o.name.c_str());
  return kOk;
}

}  // namespace

void add_rm(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("rm", "Remove a segment (not while live writers are attached)");
  cmd->footer("Refuses while processes that still run hold a writer slot in it, or when its header\n"
              "cannot be read, unless --force.\n"
              "exit codes: 0 removed, 1 refused or failed (the reason is printed), 2 usage");
  auto opts = std::make_shared<Options>();
  add_segment_name(cmd, opts->name);
  cmd->add_flag("--force", opts->force, "remove even with live writers or an unreadable header");
  cmd->callback([opts, &exit_code] { exit_code = remove_segment(*opts); });
}

}  // namespace wsm::cli
