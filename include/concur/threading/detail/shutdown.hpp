// concur/threading/detail/shutdown.hpp — Python's threading._shutdown, for the layers that end
// a process themselves (multiprocessing: a child leaves through _exit(), a parent's exit
// handling joins its threads before its child processes, as CPython's finalisation does).
#pragma once

namespace concur::detail {

// Waits for every non-daemon thread concur started (or knows) except the caller, as the
// at-exit join does. Blocks without bound; may be called more than once.
void join_non_daemon_threads();

}  // namespace concur::detail
