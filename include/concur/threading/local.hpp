// concur/threading/local.hpp — threading.local: one value per thread, per object.
//
//   th::local<Conn> conn;                        // each thread sees its own Conn
//   th::local<int> counter([] { return 42; });   // factory for a thread's first access
//   conn.get();  conn->send(x);  *counter += 1;  // first access default-constructs (or calls
//                                                // the factory) in the calling thread
//   conn.has_value();  conn.reset();  conn.set(Conn{...});
//
// C++'s thread_local gives one value per thread per *variable*; local<T> gives one per thread
// per *object*, so it can be a member (the seeds' LazyConnection keeps one socket per thread).
//
// Contract
// - No value is ever shared between threads: each thread reaches only the value it created.
// - A thread's value is destroyed exactly once: when that thread ends (before join() returns,
//   for a concur Thread; at thread exit for any other thread), at reset()/set(), or when the
//   local itself is destroyed — whichever comes first. A value's destructor may itself use
//   locals; values it creates are destroyed too.
// - Thread-safety: every member may be called concurrently from any thread; each call acts on
//   the calling thread's value. The returned reference is valid until that thread ends or the
//   value is reset/replaced.
// - Happens-before: none between threads, none needed: each value is created, used and (at
//   thread end, reset() or set()) destroyed by its own thread. The exception is destroying the
//   local itself, which destroys every thread's value in the destroying thread: each of those
//   threads' last use of its value must already happen before that (e.g. through join()).
// - Throws: whatever T's constructor or the factory throws (then no value is stored);
//   RuntimeError if T has no default constructor and no factory was given.
// - Undefined: destroying a local while another thread is using its value.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

#include "concur/errors.hpp"

namespace concur::detail {

struct LocalTable;  // one per thread, src/threading/local.cpp

// The type-erased core of threading::local: a key that maps each thread to a void* value.
// Each key has a small index, reused once the key is destroyed; each thread keeps its values in
// a vector indexed by it, so find() — every get() — is a thread-local load and an index, with
// no lock: only the thread itself resizes its vector, and another thread writes into it only to
// destroy a key, which no thread may be using meanwhile (the contract above).
class LocalKey {
 public:
  using Destroy = void (*)(void*) noexcept;
  LocalKey();
  ~LocalKey();  // destroys every thread's value
  LocalKey(const LocalKey&) = delete;
  LocalKey& operator=(const LocalKey&) = delete;

  void* find() const noexcept;               // the calling thread's value, or nullptr
  void insert(void* value, Destroy destroy);  // the calling thread has no value yet
  void erase() noexcept;                      // destroys the calling thread's value, if any

 private:
  friend void local_thread_exit() noexcept;
  friend struct LocalAccess;
  const std::uint32_t index_;
  std::vector<LocalTable*> tables_;  // threads holding a value; guarded by the global local mutex
};

void local_thread_exit() noexcept;

}  // namespace concur::detail

namespace concur::threading {

template <class T>
class local {
 public:
  local() = default;
  template <class Factory>
    requires std::is_invocable_r_v<T, Factory&>
  explicit local(Factory factory) : factory_(std::move(factory)) {}
  local(const local&) = delete;
  local& operator=(const local&) = delete;

  T& get() {
    if (void* p = key_.find()) return *static_cast<T*>(p);
    return create();
  }
  T* operator->() { return &get(); }
  T& operator*() { return get(); }

  [[nodiscard]] bool has_value() const noexcept { return key_.find() != nullptr; }
  void reset() noexcept { key_.erase(); }
  T& set(T value) {
    auto fresh = std::make_unique<T>(std::move(value));
    key_.erase();
    T& ref = *fresh;
    key_.insert(fresh.release(), &destroy);
    return ref;
  }

 private:
  T& create() {
    std::unique_ptr<T> fresh;
    if (factory_) {
      fresh.reset(new T(factory_()));  // the factory's prvalue initialises T in place: no move
    } else if constexpr (std::is_default_constructible_v<T>) {
      fresh.reset(new T());
    } else {
      throw RuntimeError("threading::local: no value in this thread, and T has no default "
                         "constructor and no factory was given");
    }
    T& ref = *fresh;
    key_.insert(fresh.release(), &destroy);
    return ref;
  }
  static void destroy(void* p) noexcept { delete static_cast<T*>(p); }

  std::function<T()> factory_;
  detail::LocalKey key_;  // declared last: destroyed first, while factory_ still exists
};

}  // namespace concur::threading
