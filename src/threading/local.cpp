// threading::local storage. Each thread owns a table: a vector of slots indexed by the keys'
// indices. A thread reads its own slots without any lock (LocalKey::find, the fast path of
// every get()); anything that links tables and keys — a thread's first value for a key, reset,
// a thread's exit, a local's destruction, an index handed out or given back — takes one global
// mutex. Values are destroyed outside it, so their destructors may use locals themselves.
//
// Who writes a table's slots: the owning thread (insert, erase, exit, all under the mutex) and
// a key's destructor in any thread (under the mutex, its own slot only). The owner's lock-free
// reads race with neither: resizing is the owner's alone, and a key's slot is cleared by its
// destructor only while no thread uses that key (local.hpp's contract).
#include <memory>
#include <utility>

#include "concur/detail/at_fork.hpp"
#include "concur/detail/mutex.hpp"
#include "concur/threading/local.hpp"

namespace concur::detail {

namespace {
struct Slot {
  void* value = nullptr;  // null: no value
  LocalKey::Destroy destroy = nullptr;
  LocalKey* key = nullptr;
};
}  // namespace

struct LocalTable {
  std::vector<Slot> slots;  // indexed by LocalKey::index_; resized by the owner only
  // Every table of the process, for the child of a fork (guarded by the links mutex).
  LocalTable* prev = nullptr;
  LocalTable* next = nullptr;
};

namespace {

Mutex& links_mutex() {
  static Mutex* m = new Mutex();  // never destroyed: threads may exit during static destruction
  return *m;
}

// Guarded by links_mutex(). free_indices keeps capacity for every index ever handed out, so
// that a key's destructor can give its index back without allocating.
struct Indices {
  std::uint32_t next = 0;
  std::vector<std::uint32_t> free;
  LocalTable* tables = nullptr;  // head of every table's list
};
Indices& indices() {
  static Indices* i = new Indices();  // never destroyed, as the mutex
  return *i;
}

std::uint32_t take_index() {
  MutexGuard g(links_mutex());
  Indices& ix = indices();
  if (!ix.free.empty()) {
    const std::uint32_t i = ix.free.back();
    ix.free.pop_back();
    return i;
  }
  ix.free.reserve(ix.next + 1);  // may throw: nothing taken yet
  return ix.next++;
}

thread_local LocalTable* tls_table = nullptr;

void list_table(LocalTable* t) noexcept {  // under links_mutex()
  Indices& ix = indices();
  t->next = ix.tables;
  if (ix.tables) ix.tables->prev = t;
  ix.tables = t;
}
void unlist_table(LocalTable* t) noexcept {  // under links_mutex()
  Indices& ix = indices();
  if (t->prev) t->prev->next = t->next; else ix.tables = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = nullptr;
}

// Owns this thread's table; its destructor covers threads concur did not start.
struct TableOwner {
  void touch() noexcept {}
  ~TableOwner() {
    local_thread_exit();
    if (LocalTable* t = tls_table) {
      {
        MutexGuard g(links_mutex());
        unlist_table(t);
      }
      delete t;
      tls_table = nullptr;
    }
  }
};
thread_local TableOwner tls_table_owner;

LocalTable& this_table() {
  if (!tls_table) {
    tls_table_owner.touch();  // registers the owner's destructor for this thread
    auto fresh = std::make_unique<LocalTable>();
    MutexGuard g(links_mutex());
    list_table(fresh.get());
    tls_table = fresh.release();
  }
  return *tls_table;
}

void unlink(std::vector<LocalTable*>& tables, LocalTable* t) {
  for (auto& p : tables)
    if (p == t) {
      p = tables.back();
      tables.pop_back();
      return;
    }
}

}  // namespace

LocalKey::LocalKey() : index_(take_index()) {}

LocalKey::~LocalKey() {
  std::vector<Slot> doomed;
  {
    MutexGuard g(links_mutex());
    for (LocalTable* t : tables_) {
      Slot& s = t->slots[index_];
      if (!s.value) continue;
      doomed.push_back(s);
      s = Slot{};
    }
    tables_.clear();
    indices().free.push_back(index_);  // capacity reserved by take_index(): cannot throw
  }
  for (const Slot& s : doomed) s.destroy(s.value);
}

void* LocalKey::find() const noexcept {
  const LocalTable* t = tls_table;
  if (!t || index_ >= t->slots.size()) return nullptr;
  return t->slots[index_].value;
}

void LocalKey::insert(void* value, Destroy destroy) {
  try {
    LocalTable& t = this_table();
    MutexGuard g(links_mutex());
    if (t.slots.size() <= index_) t.slots.resize(index_ + 1);
    tables_.push_back(&t);
    t.slots[index_] = Slot{value, destroy, this};
  } catch (...) {
    destroy(value);
    throw;
  }
}

void LocalKey::erase() noexcept {
  if (!find()) return;
  LocalTable* t = tls_table;
  Slot doomed;
  {
    MutexGuard g(links_mutex());
    doomed = std::exchange(t->slots[index_], Slot{});
    unlink(tables_, t);
  }
  doomed.destroy(doomed.value);
}

void local_thread_exit() noexcept {
  LocalTable* t = tls_table;
  if (!t) return;
  // A value's destructor may create values in other locals; destroy those too (a few rounds
  // bound a destructor that keeps re-creating values).
  for (int round = 0; round < 16; ++round) {
    std::vector<Slot> doomed;
    {
      MutexGuard g(links_mutex());
      for (Slot& s : t->slots) {
        if (!s.value) continue;
        doomed.push_back(s);
        unlink(s.key->tables_, t);
        s = Slot{};
      }
    }
    if (doomed.empty()) return;
    for (const Slot& s : doomed) s.destroy(s.value);
  }
}

// --- fork (detail/at_fork.hpp) -------------------------------------------------------------------
//
// The links mutex is taken before the fork: its critical sections only relink vectors and lists
// (no other lock), so holding it hands the child every table and key list consistent. In the
// child, the forking thread keeps its table and values; the tables of threads that do not exist
// any more are unlinked from their keys and forgotten with their values — not destroyed: a
// value's destructor would run on state its thread may have left half-changed.
struct LocalAccess {
  static void forget_other_threads() noexcept {
    Indices& ix = indices();
    for (LocalTable* t = ix.tables; t;) {
      LocalTable* const next = t->next;
      if (t != tls_table) {
        for (Slot& s : t->slots)
          if (s.value) unlink(s.key->tables_, t);
        unlist_table(t);
      }
      t = next;
    }
  }
};

namespace {
[[maybe_unused]] const bool fork_handlers_registered = register_at_fork(
    // prepare also touches indices(): a thread halfway through creating it (a function-local
    // static) would leave its guard "in progress" in a child that then waits on it for good.
    AtForkLayer::threading, {[]() noexcept {
                               (void)indices();
                               links_mutex().lock();
                             },
                             []() noexcept { links_mutex().unlock(); },
                             []() noexcept {
                               LocalAccess::forget_other_threads();
                               links_mutex().unlock();
                             }});
}  // namespace

}  // namespace concur::detail
