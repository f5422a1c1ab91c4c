#include "wsm/shm/liveness.hpp"

#include <algorithm>

#include "byte_lock.hpp"
#include "wsm/shm/segment.hpp"

namespace wsm::shm {

Liveness liveness(const Segment& segment, Owner owner) {
  if (owner.process == 0 || owner.process > segment.max_writers()) return Liveness::unknown;
  const std::uint32_t index = owner.process - 1;
  // Acquire: pairs with the claimant's release of its new tenant, which it stores after taking
  // the lock; so a tenant that matches here belongs to a process that took the lock first.
  const std::uint64_t w = segment.process(index).state_word.load(std::memory_order_acquire);
  if (process_state(w) != ProcessState::active || process_tenant(w) != owner.tenant) {
    return Liveness::dead;  // a new tenant took the lock, so the one named has released it
  }
  // Through the mapping's own description: a lock held by this very process (on its lease's
  // description, which is another one) still shows as held.
  return byte_holder(segment.descriptor(), segment.process_offset(index));
}

Liveness LivenessCache::operator()(Owner owner) {
  const auto it = std::find_if(known_.begin(), known_.end(), [&](const auto& k) { return k.first == owner; });
  if (it != known_.end()) return it->second;
  const Liveness l = liveness(segment_, owner);
  known_.emplace_back(owner, l);
  return l;
}

}  // namespace wsm::shm
