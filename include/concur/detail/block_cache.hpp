// concur/detail/block_cache.hpp — per-thread caches of equal-sized memory blocks, for objects
// made and destroyed at a high rate on hot paths (a future's shared state per submitted task).
//
// A thread that frees a block keeps it, up to kMaxBlocks per size class, for its next
// allocation of that class; beyond that, and at thread exit, blocks go back to operator delete.
// glibc's own per-thread cache holds 7 blocks per size, far fewer than a batch of futures that
// are alive at once, so without this every batch would run malloc's slow paths.
//
// Size classes are multiples of 64 bytes up to kMaxSize; larger objects bypass the cache.
// Thread-safety: each thread has its own caches; a block may be freed by another thread than
// the one that allocated it (it then joins the freeing thread's cache).
#pragma once

#include <cstddef>
#include <new>

#include "concur/detail/tuning.hpp"

namespace concur::detail {

// Frees what `::operator new(size[, align])` returned. Sized deallocation is a C++14 feature
// that some compilers leave off by default (clang 14 without -fsized-deallocation declares no
// sized operator delete), so a header consumers compile must not assume it.
inline void free_sized(void* p, [[maybe_unused]] std::size_t size) noexcept {
#if defined(__cpp_sized_deallocation)
  ::operator delete(p, size);
#else
  ::operator delete(p);
#endif
}
inline void free_sized(void* p, [[maybe_unused]] std::size_t size, std::align_val_t align) noexcept {
#if defined(__cpp_sized_deallocation)
  ::operator delete(p, size, align);
#else
  ::operator delete(p, align);
#endif
}

class BlockCache {
 public:
  static constexpr std::size_t kGranule = tuning::kBlockGranule;
  static constexpr std::size_t kMaxSize = tuning::kBlockMaxSize;
  static constexpr int kMaxBlocks = tuning::kBlockCacheMaxBlocks;

  // A block of its size class, so that it may later join any thread's cache of that class.
  // Size 0 (never a real object) is an ordinary oversized request.
  static void* allocate(std::size_t size) {
    if (size == 0 || size > kMaxSize) return ::operator new(size);
    if (!live()) return ::operator new(rounded(size));
    FreeList& list = tls_lists[index(size)];
    if (Node* n = list.head) {
      list.head = n->next;
      --list.count;
      return n;
    }
    return ::operator new(rounded(size));
  }

  static void deallocate(void* p, std::size_t size) noexcept {
    if (size == 0 || size > kMaxSize) return free_sized(p, size);
    if (!live()) return free_sized(p, rounded(size));
    FreeList& list = tls_lists[index(size)];
    if (list.count >= kMaxBlocks) return free_sized(p, rounded(size));
    list.head = ::new (p) Node{list.head};
    ++list.count;
  }

 private:
  struct Node {
    Node* next;
  };
  struct FreeList {  // zero-initialized, as every thread_local
    Node* head;
    int count;
  };
  // Frees the thread's blocks at thread exit; after that the thread uses operator new/delete
  // directly (objects destroyed later in the thread's exit still find a valid path).
  struct Flusher {
    ~Flusher() {
      for (std::size_t i = 0; i < kClasses; ++i) {
        while (Node* n = tls_lists[i].head) {
          tls_lists[i].head = n->next;
          free_sized(n, (i + 1) * kGranule);
        }
        tls_lists[i].count = 0;
      }
      tls_state = kDead;
    }
  };
  static constexpr std::size_t kClasses = kMaxSize / kGranule;
  static constexpr int kUnused = 0, kLive = 1, kDead = 2;

  static bool live() noexcept {
    if (tls_state == kLive) return true;
    if (tls_state == kDead) return false;
    thread_local Flusher flusher;  // registers the flush at thread exit
    (void)flusher;
    tls_state = kLive;
    return true;
  }
  static std::size_t index(std::size_t size) noexcept { return (size - 1) / kGranule; }
  static std::size_t rounded(std::size_t size) noexcept { return (index(size) + 1) * kGranule; }

  // Trivially destructible, so they stay usable while the thread's other thread_locals die.
  static inline thread_local FreeList tls_lists[kClasses];
  static inline thread_local int tls_state = kUnused;
};

}  // namespace concur::detail
