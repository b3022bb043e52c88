// concur/detail/fork_registry.hpp — the live objects of one kind whose internal locks a layer's
// at-fork handlers must take (at_fork.hpp), in one intrusive list per kind.
//
// A fork in the middle of a critical section leaves the child with a lock held by a thread that
// does not exist there and the data under it half-changed. For a kind of object whose internal
// lock guards such data (a scheduler's queue, an exchange's subscriber list), the layer lists
// every live object here and, in its prepare handler, takes the registry's lock and then every
// object's lock (lock_all), releasing them in the parent and the child handlers (unlock_all).
// Only leaf locks may be taken so (at_fork.hpp): critical sections that call no user code.
//
//   class Widget { ... friend class detail::ForkRegistry<Widget>;
//                  detail::ForkLink<Widget> fork_link_; Mutex mutex_; };
//   Widget::Widget() { ForkRegistry<Widget>::instance().add(this); }     // and remove() in ~Widget
//   prepare: ForkRegistry<Widget>::instance().lock_all([](Widget& w) { w.mutex_.lock(); });
//
// Thread-safety: add, remove, lock_all and unlock_all may be called from any thread. The
// registry of each kind is made at first use and never destroyed (objects may outlive statics).
#pragma once

#include "concur/detail/mutex.hpp"

namespace concur::detail {

template <class T>
struct ForkLink {
  T* prev = nullptr;
  T* next = nullptr;
};

template <class T>
class ForkRegistry {
 public:
  static ForkRegistry& instance() {
    static auto* r = new ForkRegistry();
    return *r;
  }

  void add(T* obj) noexcept {
    MutexGuard g(mutex_);
    obj->fork_link_.prev = nullptr;
    obj->fork_link_.next = head_;
    if (head_) head_->fork_link_.prev = obj;
    head_ = obj;
  }
  void remove(T* obj) noexcept {
    MutexGuard g(mutex_);
    ForkLink<T>& l = obj->fork_link_;
    if (l.prev) l.prev->fork_link_.next = l.next; else head_ = l.next;
    if (l.next) l.next->fork_link_.prev = l.prev;
  }

  // The registry's lock, then lock(obj) for every live object (a prepare handler).
  template <class Lock>
  void lock_all(Lock&& lock) noexcept {
    mutex_.lock();
    for (T* o = head_; o; o = o->fork_link_.next) lock(*o);
  }
  // unlock(obj) for every live object, then the registry's lock (parent and child handlers).
  template <class Unlock>
  void unlock_all(Unlock&& unlock) noexcept {
    for (T* o = head_; o; o = o->fork_link_.next) unlock(*o);
    mutex_.unlock();
  }

 private:
  ForkRegistry() = default;
  Mutex mutex_;
  T* head_ = nullptr;
};

}  // namespace concur::detail
