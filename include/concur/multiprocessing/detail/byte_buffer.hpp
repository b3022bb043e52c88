// concur/multiprocessing/detail/byte_buffer.hpp — the growing byte buffer that archives write
// into and frames are read into: uninitialised storage (no zero-fill, unlike std::vector's
// resize), doubled when it runs out, reused from one message to the next.
//
// Thread-safety: none (one owner at a time). Throws std::bad_alloc, or std::length_error for a
// size that cannot be represented; a throwing call leaves the contents as they were.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>

namespace concur::multiprocessing::detail {

class ByteBuffer {
 public:
  ByteBuffer() noexcept = default;
  ByteBuffer(ByteBuffer&&) noexcept = default;
  ByteBuffer& operator=(ByteBuffer&&) noexcept = default;

  std::byte* data() noexcept { return data_.get(); }
  const std::byte* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::span<const std::byte> view() const noexcept { return {data_.get(), size_}; }

  void clear() noexcept { size_ = 0; }

  // Makes room for `n` more bytes and returns where they go; size() grows by n. The new bytes
  // are uninitialised.
  std::byte* extend(std::size_t n) {
    if (n > capacity_ - size_) grow(n);
    std::byte* at = data_.get() + size_;
    size_ += n;
    return at;
  }

  void append(const void* bytes, std::size_t n) {
    if (n == 0) return;
    std::memcpy(extend(n), bytes, n);
  }

  // Sets the size to `n` (<= capacity after reserve(n)); the bytes beyond the old size are
  // uninitialised.
  void resize(std::size_t n) {
    if (n > capacity_) reserve(n);
    size_ = n;
  }

  void reserve(std::size_t n) {
    if (n <= capacity_) return;
    std::unique_ptr<std::byte[]> bigger(new std::byte[n]);
    if (size_ != 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = n;
  }

  // Gives the memory back when the buffer grew beyond `limit` (a big message should not stay
  // allocated for the life of a thread).
  void trim(std::size_t limit) noexcept {
    if (capacity_ > limit) {
      data_.reset();
      capacity_ = 0;
      size_ = 0;
    }
  }

 private:
  void grow(std::size_t n) {
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max() / 2;
    if (n > kMax - size_) throw std::length_error("byte buffer too large");
    reserve(std::max({size_ + n, capacity_ * 2, std::size_t{256}}));
  }

  std::unique_ptr<std::byte[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace concur::multiprocessing::detail
