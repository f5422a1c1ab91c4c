// One load run: connect every client, subscribe, publish, drain, close (Beast lives in run.cpp).
//
// The phases are barriers across all clients, so that when the run ends both sides have seen
// every message: subscribers subscribe (and see the acks) before monitors publish; monitors wait
// for the reply to each of their messages; then subscribers unsubscribe, and since a connection's
// messages are delivered in order, the unsubscribe reply comes after every broadcast queued for
// it; only then does every client close. A client whose connection drops reconnects (declaring the
// attempt in its URL) and catches up with the current phase; requests that were in flight are
// counted as unanswered.
#pragma once

#include <vector>

#include "options.hpp"
#include "summary.hpp"

namespace wsm::loadgen {

// Runs until every client closed, the duration or message count is done, or options.timeout.
// SIGINT/SIGTERM stop publishing and drain early (a second one aborts).
[[nodiscard]] Summary run_load(const Options& options, const std::vector<ws::Role>& roles);

}  // namespace wsm::loadgen
