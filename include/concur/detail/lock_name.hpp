// concur/detail/lock_name.hpp — the optional name every lock kind carries for reports (lock-order
// and deadlock reports name the locks involved). Costs one pointer when unnamed.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace concur::detail {

class LockName {
 public:
  LockName() noexcept = default;
  explicit LockName(std::string_view name) : name_(std::make_unique<const std::string>(name)) {}
  std::string_view view() const noexcept { return name_ ? std::string_view(*name_) : ""; }

 private:
  std::unique_ptr<const std::string> name_;  // null when unnamed: keeps an unnamed lock small
};

}  // namespace concur::detail
