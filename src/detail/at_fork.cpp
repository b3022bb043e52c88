// The one pthread_atfork of concur and the per-layer handlers behind it
// (include/concur/detail/at_fork.hpp).
#include "concur/detail/at_fork.hpp"

#include <pthread.h>

#include <cstdlib>

#include "concur/detail/mutex.hpp"

namespace concur::detail {
namespace {

struct Entry {
  AtForkLayer layer;
  AtForkHandlers handlers;
};

// Constant-initialised, so that registration works from any static initialiser, in any order.
// Guarded by registry_mutex; prepare() holds it until parent()/child(), so that the list walked
// after the fork is the one walked before it.
constinit Mutex registry_mutex;
constinit Entry entries[kMaxAtForkHandlers]{};
constinit int entry_count = 0;
constinit bool installed = false;

void run_prepare() noexcept {
  registry_mutex.lock();
  // Highest layer first: a thread inside a higher layer's critical section may still need a
  // lower layer's lock to leave it, and gets it, since that one is taken later.
  for (int layer = kAtForkLayers - 1; layer >= 0; --layer)
    for (int i = entry_count - 1; i >= 0; --i)
      if (static_cast<int>(entries[i].layer) == layer && entries[i].handlers.prepare)
        entries[i].handlers.prepare();
}

void run_after(bool child) noexcept {
  for (int layer = 0; layer < kAtForkLayers; ++layer)
    for (int i = 0; i < entry_count; ++i) {
      if (static_cast<int>(entries[i].layer) != layer) continue;
      if (auto* h = child ? entries[i].handlers.child : entries[i].handlers.parent) h();
    }
}

void run_parent() noexcept {
  run_after(false);
  registry_mutex.unlock();
}

void run_child() noexcept {
  // Before any layer runs: a child handler may already compare generations.
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
  run_after(true);
  registry_mutex.unlock();  // taken by this very thread in run_prepare()
}

}  // namespace

bool register_at_fork(AtForkLayer layer, AtForkHandlers handlers) noexcept {
  MutexGuard g(registry_mutex);
  if (!installed) {
    // Once for the library: each layer's handlers hang off this one installation, so their
    // relative order is concur's to choose, not the order in which static initialisers ran.
    if (::pthread_atfork(run_prepare, run_parent, run_child) != 0) std::abort();
    installed = true;
  }
  if (entry_count == kMaxAtForkHandlers) std::abort();
  entries[entry_count++] = Entry{layer, handlers};
  return true;
}

}  // namespace concur::detail
