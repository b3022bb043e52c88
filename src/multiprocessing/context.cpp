// Start methods and contexts (include/concur/multiprocessing/context.hpp).
#include "concur/multiprocessing/context.hpp"

#include <atomic>

#include "multiprocessing/process_state.hpp"

namespace concur::multiprocessing {

namespace detail {
namespace {

// -1: never set (the default, fork); else a StartMethod. An atomic, so that a fork at any moment
// leaves the child a whole value.
std::atomic<int> g_setting{-1};

std::optional<StartMethod> parse_start_method(std::string_view name) noexcept {
  if (name == "fork") return StartMethod::fork;
  if (name == "spawn") return StartMethod::spawn;
  if (name == "forkserver") return StartMethod::forkserver;
  return std::nullopt;
}

StartMethod checked_start_method(std::string_view name) {
  const std::optional<StartMethod> method = parse_start_method(name);
  if (!method) throw ValueError("cannot find context for '" + std::string(name) + "'");
  return *method;
}

}  // namespace

StartMethod default_start_method() noexcept {
  const int s = g_setting.load(std::memory_order_acquire);
  return s < 0 ? StartMethod::fork : static_cast<StartMethod>(s);
}

int start_method_setting() noexcept { return g_setting.load(std::memory_order_acquire); }

void force_start_method(int setting) noexcept {
  if (setting >= -1 && setting <= static_cast<int>(StartMethod::forkserver))
    g_setting.store(setting, std::memory_order_release);
}

}  // namespace detail

void set_start_method(std::string_view method, bool force) {
  const int wanted = static_cast<int>(detail::checked_start_method(method));
  if (force) {
    detail::g_setting.store(wanted, std::memory_order_release);
    return;
  }
  int expected = -1;
  if (!detail::g_setting.compare_exchange_strong(expected, wanted, std::memory_order_acq_rel))
    throw RuntimeError("context has already been set");
}

std::string get_start_method() {
  return std::string(detail::start_method_name(detail::default_start_method()));
}

std::vector<std::string> get_all_start_methods() { return {"fork", "spawn", "forkserver"}; }

std::string Context::get_start_method() const {
  return method_ ? std::string(detail::start_method_name(*method_))
                 : multiprocessing::get_start_method();
}

Context get_context(std::string_view method) {
  return Context(detail::checked_start_method(method));
}

Context get_context() { return Context(std::nullopt); }

}  // namespace concur::multiprocessing
