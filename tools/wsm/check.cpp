// wsm check: validate a whole segment (shm::check_segment) and print every finding.
//
// It checks a private copy read with read(2), so neither a corrupt segment nor a busy one can fault
// or confuse it. The file is read in offset order, which is also the order writers publish in
// (catalog entries before the strings and cells that depend on them), so a copy of a live segment
// is consistent except for races at its edges; when the copy has findings it is read and checked
// once more and only the second verdict counts.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "commands.hpp"
#include "segment_reader.hpp"
#include "wsm/shm/segment.hpp"
#include "wsm/shm/segment_check.hpp"

namespace wsm::cli {

namespace {

Result<std::vector<std::byte>> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return fail(err == ENOENT ? Errc::not_found : Errc::system, path + ": " + std::strerror(err));
  }
  struct stat st {};
  std::vector<std::byte> bytes;
  if (::fstat(fd, &st) == 0) bytes.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the file shrank under us: check what is there
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  bytes.resize(got);
  return bytes;
}

struct Options {
  std::string name;
  bool no_probe = false;
};

}  // namespace

void add_check(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("check", "Validate a whole segment and print every finding");
  cmd->footer("Checks the header (magic, version, layout hash, limits, offsets, size), the usage\n"
              "counters, the reap lock and fold journal, every family and series entry, writer slots\n"
              "of dead processes, every arena cell and the retired index. One line per finding:\n"
              "  <error|warning> <kind>: <where and what>\n"
              "exit codes: 0 no findings, 1 findings (or the segment cannot be read), 2 usage");
  auto opts = std::make_shared<Options>();
  add_segment_name(cmd, opts->name);
  cmd->add_flag("--no-probe", opts->no_probe,
                "do not test whether the segment's writers run (check the bytes alone: every owner counts "
                "as alive)");
  cmd->callback([opts, &exit_code] {
    auto object = shm::Segment::object_name(opts->name);
    if (!object) {
      std::fprintf(stderr, "wsm check: %s\n", object.error().message().c_str());
      exit_code = kUsage;
      return;
    }
    const std::string path = "/dev/shm/" + *object;
    // Liveness is asked of the live segment (its process locks), never of pids; a segment whose
    // header cannot be opened is checked as bytes alone, and the findings say what is wrong.
    std::optional<shm::Segment> live;
    if (!opts->no_probe) {
      if (auto opened = open_read_only(opts->name)) live.emplace(std::move(*opened));
    }
    const shm::CheckOptions options{.live = live ? &*live : nullptr, .segment_name = opts->name};
    std::vector<shm::Finding> findings;
    std::size_t size = 0;
    for (int attempt = 0; attempt < 2 && (attempt == 0 || !findings.empty()); ++attempt) {
      auto bytes = read_file(path);
      if (!bytes) {
        std::fprintf(stderr, "wsm check: segment '%s': %s\n", opts->name.c_str(),
                     bytes.error().message().c_str());
        exit_code = kProblem;
        return;
      }
      size = bytes->size();
      findings = shm::check_segment(*bytes, options);
    }
    if (findings.empty()) {
      std::printf("segment '%s' (%s, %zu bytes): no findings\n", opts->name.c_str(), path.c_str(), size);
      return;
    }
    std::printf("segment '%s' (%s, %zu bytes): %zu finding%s\n", opts->name.c_str(), path.c_str(), size,
                findings.size(), findings.size() == 1 ? "" : "s");
    for (const shm::Finding& f : findings) {
      std::printf("%-7s %s: %s\n", std::string(shm::severity_name(f.severity)).c_str(),
                  std::string(shm::finding_name(f.kind)).c_str(), f.message.c_str());
    }
    exit_code = kProblem;
  });
}

}  // namespace wsm::cli
