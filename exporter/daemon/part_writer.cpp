#include "wsm/exporter/part_writer.hpp"

namespace wsm::exporter {

PartWriter::PartWriter(bool own_thread) {
  if (own_thread) thread_ = std::thread([this] { run(); });
}

PartWriter::~PartWriter() {
  {
    std::unique_lock lock(mutex_);
    wait_idle(lock);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

namespace {

// Writes the part; what it threw, or null.
std::exception_ptr written(const std::function<void()>& part) noexcept {
  try {
    part();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

}  // namespace

void PartWriter::write(std::function<void()> part) {
  if (!thread_.joinable()) {
    if (!failed_) failed_ = written(part);  // in place: only this thread touches failed_
    return;
  }
  {
    std::unique_lock lock(mutex_);
    wait_idle(lock);
    if (failed_) return;  // finish() reports it; a later part would follow a missing one
    next_ = std::move(part);
    busy_ = true;
  }
  changed_.notify_all();
}

void PartWriter::finish() {
  std::unique_lock lock(mutex_);
  wait_idle(lock);
  if (failed_) std::rethrow_exception(std::exchange(failed_, nullptr));
}

void PartWriter::wait_idle(std::unique_lock<std::mutex>& lock) {
  changed_.wait(lock, [this] { return !busy_; });
}

void PartWriter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return next_ != nullptr || stopping_; });
    if (next_ == nullptr) return;  // stopping, nothing handed over
    std::function<void()> part = std::exchange(next_, nullptr);
    lock.unlock();
    std::exception_ptr error = written(part);
    lock.lock();
    if (error && !failed_) failed_ = error;
    busy_ = false;
    changed_.notify_all();
  }
}

}  // namespace wsm::exporter
