// concur/multiprocessing/sharedctypes.hpp — Python's multiprocessing.Value and Array: plain
// data in shared memory, each with its own shared RLock (Python's lock=True, the default).
//
//   mp::Value<int> counter(0);
//   { std::lock_guard g(counter); counter.value() += 1; }   // Lockable through its RLock
//   mp::Array<double> arr(100);                             // zero-filled
//   mp::Array<int> a{1, 2, 3};  mp::Array<int> b(std::vector<int>{4, 5});
//   { std::lock_guard g(arr); arr[3] = 1.5; }  arr.size();  arr.get_lock();
//
// Contract
// - T is trivially copyable (its bytes are its value in every process; no pointers should be
//   in it: they mean nothing in another process). At most 64-byte alignment.
// - Handles as synchronize.hpp's: copyable (a copy is the same shared object), crossing as
//   Process arguments under every start method, ValueError when sent as a plain value.
// - The lock: acquire()/release() and every AcquireForms call form, an RLock (re-entrant,
//   owned by one thread), with OwnerDied when its holder died (synchronize.hpp). get_lock()
//   returns that RLock as its own handle (it keeps the object alive too).
// - Thread-safety: the handle's members may be called concurrently; the data itself is the
//   caller's to guard (hold the lock, or use atomics through std::atomic_ref). value() and
//   operator[] return references into shared memory, valid while some handle lives in this
//   process.
// - Happens-before: as the lock — what one holder wrote before release() is visible to the
//   next holder after its acquire().
// - Throws: OSError when the system refuses memory or descriptors; OwnerDied; RuntimeError for
//   releasing an unheld lock; out_of_range from at().
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "concur/multiprocessing/synchronize.hpp"

namespace concur::multiprocessing {

namespace detail {
// Where a T begins after the lock word (and, for an Array, after its length).
template <class T>
inline constexpr std::size_t kDataOffset =
    (sizeof(RobustWord) + sizeof(std::uint64_t) + alignof(T) - 1) / alignof(T) * alignof(T);
template <class T>
std::uint64_t tag_of() noexcept {
  return type_tag(sizeof(T), alignof(T), typeid(T).name());
}
}  // namespace detail

template <class T>
class Value : public concur::detail::AcquireForms<Value<T>> {
  static_assert(std::is_trivially_copyable_v<T>, "mp::Value<T>: T must be trivially copyable");
  static_assert(alignof(T) <= 64, "mp::Value<T>: T's alignment is at most 64");

 public:
  Value() : Value(T{}) {}
  explicit Value(const T& init) {
    segment_ = detail::Segment::create(detail::SharedKind::value, detail::tag_of<T>(), kSize);
    auto* base = static_cast<std::byte*>(segment_->payload());
    ::new (base) detail::RobustWord();
    ::new (base + detail::kDataOffset<T>) T(init);
  }
  Value(const Value&) = default;
  Value& operator=(const Value&) = default;

  T& value() noexcept { return *data(); }
  const T& value() const noexcept { return *data(); }
  // Python's .value property read and write, each under the lock.
  T get() {
    std::lock_guard<Value> g(*this);
    return *data();
  }
  void set(const T& v) {
    std::lock_guard<Value> g(*this);
    *data() = v;
  }

  bool acquire_until(const Deadline& deadline) { return detail::rlock_acquire(word(), deadline); }
  void release() { detail::rlock_release(word()); }
  RLock get_lock() const { return RLock(segment_, &word()); }

 private:
  static constexpr std::size_t kSize = detail::kDataOffset<T> + sizeof(T);
  detail::RobustWord& word() const noexcept {
    return *static_cast<detail::RobustWord*>(segment_->payload());
  }
  T* data() const noexcept {
    return std::launder(reinterpret_cast<T*>(static_cast<std::byte*>(segment_->payload()) +
                                             detail::kDataOffset<T>));
  }

  template <class U>
  friend void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Value<U>& v);
  template <class U>
  friend void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Value<U>& v);
  std::shared_ptr<detail::Segment> segment_;
};

template <class T>
class Array : public concur::detail::AcquireForms<Array<T>> {
  static_assert(std::is_trivially_copyable_v<T>, "mp::Array<T>: T must be trivially copyable");
  static_assert(alignof(T) <= 64, "mp::Array<T>: T's alignment is at most 64");

 public:
  // n zero-filled elements (Python's Array(typecode, n)).
  explicit Array(std::size_t n = 0) { make(n); }
  // A copy of `init` (Python's Array(typecode, sequence)).
  Array(std::initializer_list<T> init) : Array(std::span<const T>(init.begin(), init.size())) {}
  explicit Array(std::span<const T> init) {
    make(init.size());
    if (!init.empty()) std::memcpy(static_cast<void*>(data()), init.data(), init.size_bytes());
  }
  explicit Array(const std::vector<T>& init) : Array(std::span<const T>(init)) {}
  Array(const Array&) = default;
  Array& operator=(const Array&) = default;

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  T& operator[](std::size_t i) noexcept { return data()[i]; }
  const T& operator[](std::size_t i) const noexcept { return data()[i]; }
  T& at(std::size_t i) {
    if (i >= size_) throw std::out_of_range("mp::Array index out of range");
    return data()[i];
  }
  T* data() const noexcept {
    return std::launder(reinterpret_cast<T*>(static_cast<std::byte*>(segment_->payload()) +
                                             detail::kDataOffset<T>));
  }
  T* begin() const noexcept { return data(); }
  T* end() const noexcept { return data() + size_; }
  // A copy of the elements, taken under the lock (Python's arr[:]).
  std::vector<T> to_vector() {
    std::lock_guard<Array> g(*this);
    return std::vector<T>(begin(), end());
  }

  bool acquire_until(const Deadline& deadline) { return detail::rlock_acquire(word(), deadline); }
  void release() { detail::rlock_release(word()); }
  RLock get_lock() const { return RLock(segment_, &word()); }

 private:
  void make(std::size_t n) {
    if (n > (std::size_t{1} << 40) / sizeof(T)) throw ValueError("mp::Array too large");
    segment_ = detail::Segment::create(detail::SharedKind::array, detail::tag_of<T>(),
                                       detail::kDataOffset<T> + n * sizeof(T));
    auto* base = static_cast<std::byte*>(segment_->payload());
    ::new (base) detail::RobustWord();
    const std::uint64_t n64 = n;
    std::memcpy(base + sizeof(detail::RobustWord), &n64, sizeof n64);
    size_ = n;
  }
  detail::RobustWord& word() const noexcept {
    return *static_cast<detail::RobustWord*>(segment_->payload());
  }

  template <class U>
  friend void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Array<U>& a);
  template <class U>
  friend void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Array<U>& a);
  std::shared_ptr<detail::Segment> segment_;
  std::size_t size_ = 0;
};

// Crossing (synchronize.hpp's header comment).
template <class T>
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Value<T>& v) {
  detail::save_segment(ar, *v.segment_, "an mp::Value");
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Value<T>& v) {
  auto s = detail::load_segment(ar, detail::SharedKind::value, detail::tag_of<T>(), "an mp::Value");
  if (s->payload_size() != Value<T>::kSize)
    throw ValueError("an mp::Value arrived with memory of the wrong size");
  v.segment_ = std::move(s);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const Array<T>& a) {
  detail::save_segment(ar, *a.segment_, "an mp::Array");
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, Array<T>& a) {
  auto s = detail::load_segment(ar, detail::SharedKind::array, detail::tag_of<T>(), "an mp::Array");
  std::uint64_t n = 0;
  if (s->payload_size() >= detail::kDataOffset<T>)
    std::memcpy(&n, static_cast<std::byte*>(s->payload()) + sizeof(detail::RobustWord), sizeof n);
  if (s->payload_size() < detail::kDataOffset<T> ||
      n != (s->payload_size() - detail::kDataOffset<T>) / sizeof(T) ||
      (s->payload_size() - detail::kDataOffset<T>) % sizeof(T) != 0)
    throw ValueError("an mp::Array arrived with memory that does not match its length");
  a.segment_ = std::move(s);
  a.size_ = static_cast<std::size_t>(n);
}

}  // namespace concur::multiprocessing
