#include "wsm/exposition/id_labels.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wsm/shm/labels.hpp"

namespace wsm::exposition {

namespace {

bool is_identifier(std::string_view name) {
  return std::find(kIdentifierLabels.begin(), kIdentifierLabels.end(), name) != kIdentifierLabels.end();
}

std::string errno_text() { return std::strerror(errno); }

Result<HashKey> read_key(int fd, const std::string& path) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return fail(Errc::system, "id hash key " + path + ": " + errno_text());
  if ((st.st_mode & 077) != 0) {
    return fail(Errc::permission, "id hash key " + path + " is accessible to group or others; "
                                  "run `chmod 600 " + path + "`");
  }
  HashKey key{};
  const ssize_t n = ::read(fd, key.data(), key.size());
  char extra = 0;
  if (n != static_cast<ssize_t>(key.size()) || ::read(fd, &extra, 1) != 0) {
    return fail(Errc::corrupt, "id hash key " + path + " is not exactly " +
                                   std::to_string(key.size()) + " bytes; remove it to make a new one "
                                   "(pseudonyms will change)");
  }
  return key;
}

}  // namespace

std::optional<IdLabelMode> parse_id_label_mode(std::string_view text) noexcept {
  if (text == "drop") return IdLabelMode::drop;
  if (text == "hash") return IdLabelMode::hash;
  if (text == "raw") return IdLabelMode::raw;
  return std::nullopt;
}

std::string_view to_string(IdLabelMode mode) noexcept {
  switch (mode) {
    case IdLabelMode::drop: return "drop";
    case IdLabelMode::hash: return "hash";
    case IdLabelMode::raw: return "raw";
  }
  return "drop";
}

std::string default_hash_key_path() {
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state != nullptr && *state == '/') return std::string(state) + "/wsm/id-hash.key";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : "/tmp") + "/.local/state/wsm/id-hash.key";
}

Result<HashKey> load_or_create_hash_key(const std::string& path) {
  if (const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW); fd >= 0) {
    auto key = read_key(fd, path);
    ::close(fd);
    return key;
  }
  if (errno != ENOENT) return fail(Errc::permission, "id hash key " + path + ": " + errno_text());
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
    if (ec) return fail(Errc::system, "id hash key directory " + parent.string() + ": " + ec.message());
  }
  HashKey key{};
  if (::getrandom(key.data(), key.size(), 0) != static_cast<ssize_t>(key.size())) {
    return fail(Errc::system, "id hash key: getrandom failed: " + errno_text());
  }
  // O_EXCL: two exporters starting together agree on whichever key was written first.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return load_or_create_hash_key(path);
    return fail(Errc::permission, "id hash key " + path + ": cannot create: " + errno_text());
  }
  const bool ok = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return fail(Errc::system, "id hash key " + path + ": write failed");
  }
  return key;
}

IdLabelPolicy::IdLabelPolicy(IdLabelMode mode, const HashKey& key) : mode_(mode), key_(key) {}

std::string IdLabelPolicy::pseudonym(std::string_view value) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < 8 && i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

const shm::SeriesInfo* IdLabelPolicy::rewritten(const shm::Point& p) {
  // The decision is made once per series and kept by id: a scrape then reads the catalog entry
  // (which emitting the point has just read) and not the label text as well, which only the
  // writer reads (searching every label text first cost the scrape's thread ~1 ms at 100k series).
  const shm::SeriesInfo& series = *p.series;
  const std::uint32_t id = series.id;
  if (id < looked_at_.size() && looked_at_[id]) return id < rewrites_.size() ? rewrites_[id] : nullptr;
  if (id >= looked_at_.size()) looked_at_.resize(id + 1, false);
  looked_at_[id] = true;
  // No identifier label, nothing to rewrite.
  if (p.labels.find("_id=\"") == std::string_view::npos) return nullptr;
  std::vector<std::pair<std::string, std::string>> parsed;
  if (!shm::parse_canonical_labels(series.labels, parsed)) return nullptr;
  std::vector<Label> kept;
  std::vector<std::string> pseudonyms;
  pseudonyms.reserve(parsed.size());
  bool changed = false;
  for (const auto& [name, value] : parsed) {
    if (!is_identifier(name)) {
      kept.emplace_back(name, value);
    } else if (mode_ == IdLabelMode::hash) {
      kept.emplace_back(name, pseudonyms.emplace_back(pseudonym(value)));
      changed = true;
    } else {
      changed = true;
    }
  }
  if (!changed) return nullptr;
  auto labels = shm::canonical_labels(kept);
  if (!labels) return nullptr;
  std::string key = std::to_string(series.family_id) + ":" + *labels;
  auto [it, fresh] = by_key_.try_emplace(std::move(key), nullptr);
  if (fresh) {
    // SeriesInfo::labels is a view: its text lives in made_labels_, beside it.
    const std::string& text = made_labels_.emplace_back(std::move(*labels));
    it->second = &made_.emplace_back(shm::SeriesInfo{series.id, series.family_id, false, text});
  }
  // Only as far as the rewritten series go: 8 bytes an id (1 MB at 100k series) where none is.
  if (id >= rewrites_.size()) rewrites_.resize(id + 1, nullptr);
  rewrites_[id] = it->second;
  return it->second;
}

namespace {

void combine_gauge(shm::Point& into, const shm::Point& p) {
  switch (p.family->gauge_mode) {
    case shm::GaugeMode::sum: into.gauge += p.gauge; break;
    case shm::GaugeMode::min: into.gauge = std::min(into.gauge, p.gauge); break;
    case shm::GaugeMode::max:
    case shm::GaugeMode::last:
    case shm::GaugeMode::per_writer: into.gauge = std::max(into.gauge, p.gauge); break;
  }
}

}  // namespace

void IdLabelPolicy::merge_family(const shm::Aggregation& in, std::size_t begin, std::size_t end,
                                 shm::Aggregation& out) {
  const std::size_t first = out.points.size();
  // (labels, worker) -> index in out.points; the labels live in the catalog or in made_labels_.
  std::unordered_map<std::string_view, std::vector<std::size_t>> groups;
  for (std::size_t i = begin; i < end; ++i) {
    shm::Point p = in.points[i];
    if (const shm::SeriesInfo* r = rewritten(p)) {
      p.series = r;
      p.labels = r->labels;
    }
    auto& candidates = groups[p.labels];
    shm::Point* into = nullptr;
    for (std::size_t k : candidates) {
      if (out.points[k].worker == p.worker) into = &out.points[k];
    }
    if (into == nullptr) {
      if (p.family->type == shm::MetricType::histogram) {
        const auto b = in.buckets_of(p);
        p.buckets_at = static_cast<std::uint32_t>(out.buckets.size());
        out.buckets.insert(out.buckets.end(), b.begin(), b.end());
      }
      candidates.push_back(out.points.size());
      out.points.push_back(p);
      continue;
    }
    into->recorded |= p.recorded;
    // out.exemplars is in.exemplars (apply), so the points' indices name the same exemplars.
    if (p.exemplar != shm::Point::kNoExemplar &&
        (into->exemplar == shm::Point::kNoExemplar ||
         shm::more_recent(in.exemplars[p.exemplar], in.exemplars[into->exemplar]))) {
      into->exemplar = p.exemplar;
    }
    switch (p.family->type) {
      case shm::MetricType::counter: into->counter += p.counter; break;
      case shm::MetricType::gauge: combine_gauge(*into, p); break;
      case shm::MetricType::histogram: {
        into->sum += p.sum;
        into->count += p.count;
        const auto b = in.buckets_of(p);
        for (std::size_t k = 0; k < b.size(); ++k) out.buckets[into->buckets_at + k] += b[k];
        break;
      }
    }
  }
  std::sort(out.points.begin() + static_cast<std::ptrdiff_t>(first), out.points.end(),
            [](const shm::Point& a, const shm::Point& b) {
              return a.labels != b.labels ? a.labels < b.labels : a.worker < b.worker;
            });
}

const shm::Aggregation& IdLabelPolicy::apply(const shm::Aggregation& in, std::uint64_t generation) {
  if (mode_ == IdLabelMode::raw) return in;
  if (generation != generation_) {
    generation_ = generation;
    looked_at_.clear();
    rewrites_.clear();
    made_.clear();
    made_labels_.clear();
    by_key_.clear();
  }
  bool any = false;
  for (const shm::Point& p : in.points) any |= rewritten(p) != nullptr;
  if (!any) return in;

  // Not the copy apply() made last, which its caller may still be reading (it writes one part out
  // while it emits the next).
  shm::Aggregation& out = copies_[last_copy_ ^= 1];
  out.points.clear();
  out.buckets.clear();
  out.exemplars = in.exemplars;  // sparse; merged points keep the most recent of theirs
  for (std::size_t begin = 0; begin < in.points.size();) {
    std::size_t end = begin;
    bool family_rewritten = false;
    while (end < in.points.size() && in.points[end].family == in.points[begin].family) {
      family_rewritten |= rewritten(in.points[end]) != nullptr;
      ++end;
    }
    if (family_rewritten) {
      merge_family(in, begin, end, out);
    } else {
      for (std::size_t i = begin; i < end; ++i) {
        shm::Point p = in.points[i];
        if (p.family->type == shm::MetricType::histogram) {
          const auto b = in.buckets_of(p);
          p.buckets_at = static_cast<std::uint32_t>(out.buckets.size());
          out.buckets.insert(out.buckets.end(), b.begin(), b.end());
        }
        out.points.push_back(p);
      }
    }
    begin = end;
  }
  return out;
}

void IdLabelPolicy::release_pages() noexcept {
  for (shm::Aggregation& copy : copies_) copy.release_pages();
}

}  // namespace wsm::exposition
