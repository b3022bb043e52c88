// Helpers shared by the deadlock tests: text checks on reports and dumps, a handler that collects
// reports, and a fixture that puts every process-wide diagnostic setting back to its default.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "concur/deadlock.hpp"
#include "concur/errors.hpp"
#include "concur/threading.hpp"

namespace deadlock_test {

namespace dl = concur::deadlock;
namespace th = concur::threading;

inline bool contains(const std::string& what, const std::string& part) {
  return what.find(part) != std::string::npos;
}

inline bool starts_with(const std::string& what, const std::string& prefix) {
  return what.rfind(prefix, 0) == 0;
}

inline std::size_t occurrences(const std::string& what, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = what.find(part); at != std::string::npos; at = what.find(part, at + 1)) ++n;
  return n;
}

inline bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The message of the RuntimeError that f() throws ("<no throw>" if none, "<other>" for others).
template <class F>
std::string runtime_error_of(F&& f) {
  try {
    f();
  } catch (const concur::RuntimeError& e) {
    return e.what();
  } catch (...) {
    return "<other>";
  }
  return "<no throw>";
}

// The reports a handler received, and the thread each was delivered on (lock-order reports: the
// acquiring thread; deadlock reports: the watchdog thread).
struct Reports {
  std::mutex m;
  std::vector<dl::Report> list;
  std::vector<std::string> delivered_on;

  void add(const dl::Report& r) {
    const std::string on = th::current_thread().name();
    std::lock_guard g(m);
    list.push_back(r);
    delivered_on.push_back(on);
  }
  std::size_t count() {
    std::lock_guard g(m);
    return list.size();
  }
  std::vector<dl::Report> all() {
    std::lock_guard g(m);
    return list;
  }
  std::string messages() {
    std::lock_guard g(m);
    std::string text;
    for (const auto& r : list) text += r.message;
    return text;
  }
};

// Installs a handler that collects every report.
inline std::shared_ptr<Reports> collect_reports() {
  auto reports = std::make_shared<Reports>();
  dl::set_reaction([reports](const dl::Report& r) { reports->add(r); });
  return reports;
}

// Every test starts and ends with the defaults: no watchdog, checking off, an empty order graph,
// the print reaction and no handler kept (set_reaction(Reaction::print) would keep the last
// handler, which set_reaction(Reaction::call_handler) would bring back).
class DiagnosticsTest : public testing::Test {
 protected:
  void SetUp() override { restore(); }
  void TearDown() override { restore(); }
  static void restore() {
    dl::stop_watchdog();
    dl::enable_lock_order_checking(false);
    dl::reset_lock_order_graph();
    dl::set_reaction(std::function<void(const dl::Report&)>{});
  }
};

}  // namespace deadlock_test
