// Reading every cell of a segment consistently with the reaper's folds: the retry loop that
// Snapshot::take (a copy) and Tally::take (sums straight from the mapping) share.
//
// A pass reads the writer arenas and then the retired arena. The header's reap sequence (odd
// while a fold is under way) and fold-move counter (odd while one word move is) are read (acquire)
// before the pass and again after it; if either changed, a fold made progress during the pass, a
// count may have been read twice (in a dead writer's cell and in the retired arena) or not at all,
// and the pass is run again. If neither changed while a move is under way, its reaper is stopped,
// dead or between two moves: nothing waits for it, and the pass repairs the one move it may be
// inside from the journal (the InFlightMove it is handed).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "wsm/shm/error.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

// The fold journal's move "target = value; source = 0" (byte offsets in the segment), as read
// while the move counter was odd.
struct InFlightMove {
  std::uint64_t target = 0, source = 0, value = 0;
};

// What a pass tells the loop.
enum class PassResult { complete, unknown_series };

// Runs pass(in_flight) until it ran without a fold making progress; a pass that met a cell of a
// series its catalog did not know yet (registered meanwhile) runs again, up to
// kUnknownSeriesRepeats times: a registrant that keeps adding series can land one between a pass's
// catalog refresh and its read more than once in a row (seen under ThreadSanitizer with one retry),
// while a damaged cell that no refresh explains costs only these few extra passes. Fails
// (Errc::timeout) only if a reaper made progress through every pass for `wait`.
inline constexpr int kUnknownSeriesRepeats = 4;

template <class Pass>
[[nodiscard]] Result<void> read_between_folds(const Segment& segment, std::chrono::milliseconds wait, Pass pass) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  const SegmentHeader& h = segment.header();
  int repeats_left = kUnknownSeriesRepeats;
  for (;;) {
    // Acquire: pairs with the reaper's releases (the sequence made even, each move's bracket).
    const std::uint64_t seq = h.reap_seq.load(std::memory_order_acquire);
    const std::uint64_t moves = h.fold_moves.load(std::memory_order_acquire);
    // A move under way (odd): its journal, so a pass that overlaps a stopped or dead reaper can
    // repair it. Journal loads after the acquire of `moves`: this move's journal.
    std::optional<InFlightMove> in_flight;
    if (moves % 2 != 0 && h.journal_state.load(std::memory_order_acquire) == 1) {
      in_flight = InFlightMove{h.journal_target.load(std::memory_order_acquire),
                               h.journal_source.load(std::memory_order_acquire),
                               h.journal_value.load(std::memory_order_acquire)};
    }
    const PassResult result = pass(in_flight);
    // Relaxed is enough here: the pass loads every cell word with acquire, so if it saw any store
    // of a later move or fold, these loads see the increments before it.
    const bool stable = h.fold_moves.load(std::memory_order_relaxed) == moves &&
                        h.reap_seq.load(std::memory_order_relaxed) == seq;
    if (stable && result == PassResult::unknown_series && repeats_left > 0) {
      --repeats_left;
      continue;
    }
    if (stable) return {};
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(Errc::timeout, "segment '" + segment.name() + "': a reaper kept folding dead writers "
                                 "through every read for " + std::to_string(wait.count()) + " ms; try again");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace wsm::shm
