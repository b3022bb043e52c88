// threading::local storage. Each thread owns a table (key id -> value). Its own accesses take
// only its table's mutex (uncontended but for the rare moment a local is being destroyed);
// anything that links tables and keys — a thread's first value for a key, reset, a thread's exit,
// a local's destruction — also takes one global mutex, always before a table's. Values are
// destroyed outside every lock, so their destructors may use locals themselves.
#include <unordered_map>

#include "concur/detail/mutex.hpp"
#include "concur/threading/local.hpp"
#include "threading/thread_record.hpp"

namespace concur::detail {

namespace {
struct Slot {
  void* value;
  LocalKey::Destroy destroy;
  LocalKey* key;
};
}  // namespace

struct LocalTable {
  Mutex mutex;
  std::unordered_map<std::uint64_t, Slot> slots;
};

namespace {

Mutex& links_mutex() {
  static Mutex* m = new Mutex();  // never destroyed: threads may exit during static destruction
  return *m;
}

std::atomic<std::uint64_t> next_key_id{1};

thread_local LocalTable* tls_table = nullptr;

// Owns this thread's table; its destructor covers threads concur did not start.
struct TableOwner {
  void touch() noexcept {}
  ~TableOwner() {
    local_thread_exit();
    delete tls_table;
    tls_table = nullptr;
  }
};
thread_local TableOwner tls_table_owner;

LocalTable& this_table() {
  if (!tls_table) {
    tls_table_owner.touch();  // registers the owner's destructor for this thread
    tls_table = new LocalTable();
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

LocalKey::LocalKey() : id_(next_key_id.fetch_add(1, std::memory_order_relaxed)) {}

LocalKey::~LocalKey() {
  std::vector<Slot> doomed;
  {
    MutexGuard g(links_mutex());
    for (LocalTable* t : tables_) {
      MutexGuard gt(t->mutex);
      auto it = t->slots.find(id_);
      if (it == t->slots.end()) continue;
      doomed.push_back(it->second);
      t->slots.erase(it);
    }
    tables_.clear();
  }
  for (const Slot& s : doomed) s.destroy(s.value);
}

void* LocalKey::find() const noexcept {
  LocalTable* t = tls_table;
  if (!t) return nullptr;
  MutexGuard g(t->mutex);
  auto it = t->slots.find(id_);
  return it == t->slots.end() ? nullptr : it->second.value;
}

void LocalKey::insert(void* value, Destroy destroy) {
  LocalTable& t = this_table();
  try {
    MutexGuard g(links_mutex());
    MutexGuard gt(t.mutex);
    tables_.push_back(&t);
    try {
      t.slots.emplace(id_, Slot{value, destroy, this});
    } catch (...) {
      tables_.pop_back();
      throw;
    }
  } catch (...) {
    destroy(value);
    throw;
  }
}

void LocalKey::erase() noexcept {
  LocalTable* t = tls_table;
  if (!t) return;
  Slot doomed{};
  {
    MutexGuard g(links_mutex());
    MutexGuard gt(t->mutex);
    auto it = t->slots.find(id_);
    if (it == t->slots.end()) return;
    doomed = it->second;
    t->slots.erase(it);
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
      MutexGuard gt(t->mutex);
      doomed.reserve(t->slots.size());
      for (auto& [id, slot] : t->slots) {
        doomed.push_back(slot);
        unlink(slot.key->tables_, t);
      }
      t->slots.clear();
    }
    if (doomed.empty()) return;
    for (const Slot& s : doomed) s.destroy(s.value);
  }
}

}  // namespace concur::detail
