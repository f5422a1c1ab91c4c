// Selective monitoring: which catalogue categories are recorded and derived. Read from
// WEBSOCKET_METRICS_CATEGORIES by wsm::ws::Metrics (writers) and by wsm-exporter, so one variable in
// a deployment's environment switches a category off on both sides:
//   unset, "" or "all"              every category (the default)
//   "connection,message,health"     only these (comma-separated, spaces ignored)
//   "all,-resource,-subscription"   every category but these
// A writer records nothing for a disabled category (its calls cost what a disabled handle costs and
// its families are not registered); the exporter derives nothing for it.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "wsm/shm/error.hpp"
#include "wsm/websocket_catalogue.hpp"

namespace wsm::ws {

inline constexpr const char* kCategoriesVariable = "WEBSOCKET_METRICS_CATEGORIES";

class Categories {
 public:
  [[nodiscard]] static constexpr Categories all() noexcept { return Categories((1u << kValueCount<Category>) - 1); }
  [[nodiscard]] static constexpr Categories none() noexcept { return Categories(0); }

  [[nodiscard]] constexpr bool enabled(Category c) const noexcept { return (bits_ & bit(c)) != 0; }
  [[nodiscard]] constexpr bool enabled(Metric m) const noexcept { return enabled(category_of(m)); }
  constexpr Categories& enable(Category c) noexcept { bits_ |= bit(c); return *this; }
  constexpr Categories& disable(Category c) noexcept { bits_ &= ~bit(c); return *this; }
  friend constexpr bool operator==(Categories, Categories) = default;

  // "connection,message" as the variable would say it; "all" when every one is on, "none" when none.
  [[nodiscard]] std::string text() const {
    if (*this == all()) return "all";
    std::string out;
    for (std::size_t i = 0; i < kValueCount<Category>; ++i) {
      if ((bits_ & (1u << i)) == 0) continue;
      if (!out.empty()) out += ',';
      out += LabelValues<Category>::names[i];
    }
    return out.empty() ? "none" : out;
  }

 private:
  constexpr explicit Categories(std::uint32_t bits) noexcept : bits_(bits) {}
  static constexpr std::uint32_t bit(Category c) noexcept { return 1u << static_cast<unsigned>(c); }
  std::uint32_t bits_;
};

// What the variable accepts, for error messages and --help: "all, or a comma-separated list of
// connection, ..., subscription (-name leaves one out)".
[[nodiscard]] inline std::string categories_allowed() {
  std::string allowed = "all, or a comma-separated list of ";
  for (std::size_t i = 0; i < kValueCount<Category>; ++i) {
    allowed.append(i == 0 ? "" : ", ").append(LabelValues<Category>::names[i]);
  }
  return allowed + " (-name leaves one out)";
}

// Parses the variable's value (see the top of this file): the items apply left to right, starting
// from none, or from every category when no item names one to include. An unknown name fails with
// one line naming it and every allowed name.
[[nodiscard]] inline Result<Categories> parse_categories(std::string_view text) {
  struct Item {
    bool all, minus;
    Category category;
  };
  std::array<Item, 32> items{};
  std::size_t n = 0;
  bool includes = false;
  for (std::size_t from = 0; from <= text.size();) {
    const std::size_t comma = std::min(text.find(',', from), text.size());
    std::string_view item = text.substr(from, comma - from);
    from = comma + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    const bool minus = item.starts_with('-');
    if (minus) item.remove_prefix(1);
    const auto c = parse_label_value<Category>(item);
    if ((!c && item != "all") || (minus && !c) || n == items.size()) {
      return fail(Errc::invalid_argument, std::string(kCategoriesVariable) + ": '" + std::string(item) +
                                              "' is not a category; expected " + categories_allowed());
    }
    items[n++] = {!c, minus, c.value_or(Category::connection)};
    includes = includes || !minus;
  }
  Categories out = includes ? Categories::none() : Categories::all();
  for (std::size_t i = 0; i < n; ++i) {
    if (items[i].all) {
      out = Categories::all();
    } else {
      items[i].minus ? out.disable(items[i].category) : out.enable(items[i].category);
    }
  }
  return out;
}

}  // namespace wsm::ws
