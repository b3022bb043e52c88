// concur/detail/at_fork.hpp — what concur does around fork(): one pthread_atfork for the whole
// library, and the handlers each layer registers behind it (in the manner of folly's
// system/AtFork.h).
//
// After fork() the child has one thread, the one that called fork(); every other thread is gone
// in the middle of whatever it was doing, and the locks it held stay locked forever. As
// CPython's threading._after_fork and os.register_at_fork do it, each layer of concur puts its
// own internal state right:
//  - prepare (in the parent, before the fork): a layer may take internal locks, so that the child
//    inherits their data consistent. Only leaf locks (whose critical sections take no other
//    lock, or only locks of lower layers) may be taken here: prepare runs from the highest
//    layer to the lowest, so a thread holding a higher lock may still take a lower one, never
//    the reverse;
//  - parent (in the parent, after the fork): releases what prepare took;
//  - child (in the child, still the only thread): releases or re-initialises the layer's locks
//    and forgets the threads that do not exist any more. Runs from the lowest layer to the
//    highest, so a layer's child handler may use the layers below it.
// Within one layer, prepare handlers run in the reverse order of their registration and
// parent/child handlers in that order (pthread_atfork's own rule).
//
// fork_generation() counts the forks this process descends from (0 in a process that was never
// forked; the child handler increments it before any layer runs). An object that cannot be
// reached from a handler can keep the generation it was made in and compare, at the price of one
// relaxed load, to notice that it now lives in a child.
//
// Contract
// - register_at_fork() may be called at any time, from any thread, including during static
//   initialisation (the registry is constant-initialised); a handler stays registered for the
//   life of the process. At most kMaxAtForkHandlers registrations (std::abort() beyond: a
//   handler left out would be a silent bug in the child).
// - Handlers must not throw, must not fork, and must not register handlers.
// - User-visible objects (Lock, Queue, Future, ...) keep the state they had at the fork, as in
//   Python; only concur's own bookkeeping is mended.
//
// Layering: this file depends on nothing above detail/; layers call down, never up.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "concur/detail/tuning.hpp"

namespace concur::detail {

// The layers, lowest first: a layer may rely on every lower one in its child handler.
enum class AtForkLayer : int {
  detail = 0,     // futex, Mutex: no state to mend
  threading = 1,  // the thread registry, thread records, threading::local, the except hook
  deadlock = 2,   // the lock-order graph (used by threading's locks), watchdog, dump thread
  queue = 3,
  futures = 4,    // thread pools
  asyncio = 5,    // the running loop and task of the forking thread
  patterns = 6,   // sched, pubsub, actors: the Cookbook's patterns (their registries and schedulers)
  multiprocessing = 7,  // the children registry, Process states, the forkserver's client,
                        // queues between processes (their per-process buffers)
};
inline constexpr int kAtForkLayers = 8;
inline constexpr int kMaxAtForkHandlers = tuning::kMaxAtForkHandlers;

struct AtForkHandlers {
  void (*prepare)() noexcept = nullptr;  // each may be null
  void (*parent)() noexcept = nullptr;
  void (*child)() noexcept = nullptr;
};

// Registers one set of handlers for `layer`; installs the one pthread_atfork on first use.
// Returns true, so that a namespace-scope `const bool` can register at static initialisation.
bool register_at_fork(AtForkLayer layer, AtForkHandlers handlers) noexcept;

inline std::atomic<std::uint64_t> g_fork_generation{0};  // written only by the child handler
inline std::uint64_t fork_generation() noexcept {
  return g_fork_generation.load(std::memory_order_relaxed);
}

// Re-creates `obj` in place, for an internal lock (or an object holding one) that a thread which
// does not exist in the child may have left locked or half-changed. The old object is destroyed
// first; use it only for types whose destructor touches nothing a vanished thread could hold.
template <class T, class... Args>
void reinit_in_child(T& obj, Args&&... args) noexcept {
  std::destroy_at(&obj);
  std::construct_at(&obj, std::forward<Args>(args)...);
}

}  // namespace concur::detail
