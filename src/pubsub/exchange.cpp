// The untyped side of concur::pubsub::Exchange (include/concur/pubsub/detail/exchange_core.hpp)
// and get_exchange's registry of named exchanges.
#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "concur/detail/at_fork.hpp"
#include "concur/pubsub/detail/exchange_core.hpp"

namespace concur::pubsub::detail {

using concur::detail::Mutex;
using concur::detail::MutexGuard;

// Every live core, for the at-fork handlers: the registry's lock is taken before any core's.
struct CoreRegistry {
  Mutex mutex;
  ExchangeCore* head = nullptr;

  static CoreRegistry& get() {
    static auto* r = new CoreRegistry();  // never destroyed: exchanges may outlive statics
    return *r;
  }
  void add(ExchangeCore* c) noexcept {
    MutexGuard g(mutex);
    c->next_ = head;
    if (head) head->prev_ = c;
    head = c;
  }
  void remove(ExchangeCore* c) noexcept {
    MutexGuard g(mutex);
    if (c->prev_) c->prev_->next_ = c->next_; else head = c->next_;
    if (c->next_) c->next_->prev_ = c->prev_;
  }
  static void prepare() noexcept;
  static void after() noexcept;
};

ExchangeCore::ExchangeCore() { CoreRegistry::get().add(this); }
ExchangeCore::~ExchangeCore() { CoreRegistry::get().remove(this); }

namespace {
// The live links of `from`, plus `extra` when given; retired ones are left behind.
std::shared_ptr<std::vector<LinkRef>> live_copy(const Snapshot& from, const LinkRef* extra,
                                                const SubscriberLink* without) {
  auto fresh = std::make_shared<std::vector<LinkRef>>();
  fresh->reserve((from ? from->size() : 0) + (extra ? 1 : 0));
  if (from)
    for (const LinkRef& l : *from)
      if (!l->retired() && l.get() != without) fresh->push_back(l);
  if (extra) fresh->push_back(*extra);
  return fresh;
}
}  // namespace

void ExchangeCore::attach(const LinkRef& link) {
  MutexGuard g(mutex_);
  if (snapshot_ && std::any_of(snapshot_->begin(), snapshot_->end(),
                               [&](const LinkRef& l) { return l.get() == link.get(); }))
    return;
  Snapshot fresh = live_copy(snapshot_, &link, nullptr);
  snapshot_ = std::move(fresh);  // the old list is released under the lock: only refcounts
}

bool ExchangeCore::detach(const SubscriberLink* link) {
  MutexGuard g(mutex_);
  if (!snapshot_ || std::none_of(snapshot_->begin(), snapshot_->end(),
                                 [&](const LinkRef& l) { return l.get() == link; }))
    return false;
  Snapshot fresh = live_copy(snapshot_, nullptr, link);
  snapshot_ = std::move(fresh);
  return true;
}

Snapshot ExchangeCore::snapshot() const noexcept {
  MutexGuard g(mutex_);
  return snapshot_;
}

void ExchangeCore::prune() noexcept {
  try {
    MutexGuard g(mutex_);
    Snapshot fresh = live_copy(snapshot_, nullptr, nullptr);
    snapshot_ = std::move(fresh);
  } catch (...) {
    // Out of memory: the retired links stay listed, and skipped, until the next change.
  }
}

// --- fork (detail/at_fork.hpp) -----------------------------------------------------------------
// Every core's lock is a leaf held for a few instructions and an allocation, so prepare may wait
// for them all; the child then finds every list whole. The named-exchange registry's lock is
// taken first (its critical section makes cores, which takes the core registry's lock).

namespace {
struct Named {
  Mutex mutex;
  std::map<std::pair<std::type_index, std::string>, void*, std::less<>> exchanges;
};
Named& named() {
  static auto* n = new Named();  // never destroyed, nor are the exchanges in it
  return *n;
}
}  // namespace

void CoreRegistry::prepare() noexcept {
  named().mutex.lock();
  CoreRegistry& r = get();
  r.mutex.lock();
  for (ExchangeCore* c = r.head; c; c = c->next_) c->mutex_.lock();
}
void CoreRegistry::after() noexcept {
  CoreRegistry& r = get();
  for (ExchangeCore* c = r.head; c; c = c->next_) c->mutex_.unlock();
  r.mutex.unlock();
  named().mutex.unlock();
}

namespace {
[[maybe_unused]] const bool fork_handlers_registered = concur::detail::register_at_fork(
    concur::detail::AtForkLayer::patterns,
    {CoreRegistry::prepare, CoreRegistry::after, CoreRegistry::after});
}  // namespace

void* named_exchange(std::type_index type, std::string_view name, void* (*make)()) {
  Named& n = named();
  MutexGuard g(n.mutex);
  // The entry first, then the exchange: if either allocation fails nothing is left behind.
  auto [it, inserted] = n.exchanges.try_emplace(std::make_pair(type, std::string(name)), nullptr);
  if (!inserted) return it->second;
  try {
    it->second = make();
  } catch (...) {
    n.exchanges.erase(it);
    throw;
  }
  return it->second;
}

}  // namespace concur::pubsub::detail
