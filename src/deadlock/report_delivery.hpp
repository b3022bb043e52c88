// Delivering a deadlock::Report according to the configured reaction (defined in
// lock_order.cpp; used there and by the watchdog in detection.cpp).
#pragma once

#include "concur/deadlock/report.hpp"

namespace concur::deadlock::detail {

// In the thread that found the problem. Returns true if the reaction is raise (the caller then
// throws, or breaks the deadlock); for print and call_handler, the report has been delivered.
// For a lock-order report, exceptions from a handler propagate; for a deadlock report
// (`from_watchdog`), they are printed and dropped.
bool deliver(const Report& report, bool from_watchdog);

}  // namespace concur::deadlock::detail
