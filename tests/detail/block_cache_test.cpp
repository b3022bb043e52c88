// Unit tests of detail::BlockCache (concur/detail/block_cache.hpp): per-thread caches of
// equal-sized blocks, where a block may be freed by another thread than the one that allocated
// it. Leaks, double frees and overflows are for AddressSanitizer to find
// (-DCONCUR_SANITIZE=address,undefined); the tests make sure every path is taken.
#include <gtest/gtest.h>

#include <malloc.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "concur/detail/block_cache.hpp"
#include "detail_sync.hpp"

namespace {

using concur::detail::BlockCache;
using namespace concur_detail_test;

constexpr std::size_t kMax = BlockCache::kMaxSize;

struct Block {
  void* p;
  std::size_t size;
  unsigned char tag;
};

Block make(std::size_t size, unsigned char tag) {
  Block b{BlockCache::allocate(size), size, tag};
  std::memset(b.p, tag, size);
  return b;
}

// Checks the block still holds its tag over its whole length, then frees it.
bool check_and_free(const Block& b) {
  const auto* bytes = static_cast<const unsigned char*>(b.p);
  bool ok = true;
  for (std::size_t i = 0; i < b.size; ++i) ok &= (bytes[i] == b.tag);
  BlockCache::deallocate(b.p, b.size);
  return ok;
}

// Sizes that cover every class, both ends of each, and the bypass above kMaxSize.
std::vector<std::size_t> interesting_sizes() {
  std::vector<std::size_t> sizes;
  for (std::size_t s = BlockCache::kGranule; s <= kMax; s += BlockCache::kGranule) {
    sizes.push_back(s - BlockCache::kGranule + 1);
    sizes.push_back(s);
  }
  sizes.push_back(kMax + 1);
  sizes.push_back(4 * kMax);
  return sizes;
}

TEST(BlockCache, EverySizeIsAlignedAndUsableOverItsLength) {
  for (std::size_t size = 1; size <= kMax + 70; ++size) {
    Block b = make(size, static_cast<unsigned char>(size));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.p) % __STDCPP_DEFAULT_NEW_ALIGNMENT__, 0u)
        << size;
    EXPECT_TRUE(check_and_free(b)) << size;
  }
}

TEST(BlockCache, AFreedBlockServesTheNextAllocationOfItsClass) {
  // Same thread: LIFO reuse within a size class, whatever the exact size in the class.
  void* a = BlockCache::allocate(100);
  BlockCache::deallocate(a, 100);
  void* b = BlockCache::allocate(128);  // 100 and 128 are both in the 65..128 class
  EXPECT_EQ(a, b);
  void* c = BlockCache::allocate(100);  // the cache of that class is empty again
  EXPECT_NE(c, b);
  BlockCache::deallocate(b, 128);
  BlockCache::deallocate(c, 65);
  void* d = BlockCache::allocate(64);  // another class: not one of those
  EXPECT_NE(d, b);
  EXPECT_NE(d, c);
  BlockCache::deallocate(d, 64);
  // Drain the class again so the test leaves the cache as it found it (not required).
  void* e = BlockCache::allocate(128);
  void* f = BlockCache::allocate(128);
  BlockCache::deallocate(e, 128);
  BlockCache::deallocate(f, 128);
}

TEST(BlockCache, ZeroSizeAllocation) {
  // ::operator new(0) is valid; size 0 must not index the per-thread lists ((0 - 1) / kGranule
  // would be far past their end): it takes the oversized path.
  void* p = BlockCache::allocate(0);
  BlockCache::deallocate(p, 0);
}

// Threads in a ring: each round every thread allocates a batch of blocks of every class (and
// some too large for the cache) and hands it to the next thread, which checks and frees it.
// Every block is freed by another thread than its allocator; caches fill up with foreign
// blocks, serve them again, and are flushed when the threads exit.
TEST(BlockCache, BlocksFreedByAnotherThreadManyRounds) {
  constexpr int kThreads = 4;
  const int rounds = 400 / CONCUR_TEST_TIME_SCALE;
  const std::vector<std::size_t> sizes = interesting_sizes();
  struct Mailbox {
    std::mutex m;
    std::condition_variable cv;
    std::deque<std::vector<Block>> batches;
  };
  std::vector<Mailbox> boxes(kThreads);
  std::atomic<long> bad{0}, freed{0}, lost{0};
  run_together(kThreads, [&](int t) {
    Rng rng(t + 11);
    for (int r = 0; r < rounds; ++r) {
      std::vector<Block> batch;
      const int n = 8 + static_cast<int>(rng.below(40));
      for (int i = 0; i < n; ++i)
        batch.push_back(make(sizes[rng.below(sizes.size())], static_cast<unsigned char>(t * 31 + i)));
      Mailbox& out = boxes[(t + 1) % kThreads];
      {
        std::lock_guard g(out.m);
        out.batches.push_back(std::move(batch));
      }
      out.cv.notify_one();

      Mailbox& in = boxes[t];
      std::vector<Block> got;
      {
        std::unique_lock g(in.m);
        if (!in.cv.wait_for(g, long_wait(), [&] { return !in.batches.empty(); })) {
          lost.fetch_add(1);
          return;
        }
        got = std::move(in.batches.front());
        in.batches.pop_front();
      }
      for (const Block& b : got) {
        if (!check_and_free(b)) bad.fetch_add(1);
        freed.fetch_add(1);
      }
    }
  });
  EXPECT_EQ(lost.load(), 0);
  EXPECT_EQ(bad.load(), 0) << "a block was handed out twice or overlapped another";
  for (auto& box : boxes) EXPECT_TRUE(box.batches.empty());
}

// One thread only allocates, another only frees (an executor's submitter and worker): the
// freeing thread's cache fills to its limit and sends the rest to operator delete; the
// allocating thread never sees its blocks again.
TEST(BlockCache, OneThreadAllocatesAnotherFrees) {
  const int count = 20000 / CONCUR_TEST_TIME_SCALE;
  std::mutex m;
  std::condition_variable cv;
  std::deque<Block> q;
  bool done = false;
  std::atomic<long> bad{0};
  std::thread freer([&] {
    for (;;) {
      Block b{};
      {
        std::unique_lock g(m);
        if (!cv.wait_for(g, long_wait(), [&] { return done || !q.empty(); })) return;
        if (q.empty()) return;
        b = q.front();
        q.pop_front();
      }
      if (!check_and_free(b)) bad.fetch_add(1);
    }
  });
  std::thread allocator([&] {
    for (int i = 0; i < count; ++i) {
      Block b = make(static_cast<std::size_t>(1 + i % (kMax + 40)), static_cast<unsigned char>(i));
      {
        std::lock_guard g(m);
        q.push_back(b);
      }
      cv.notify_one();
    }
    {
      std::lock_guard g(m);
      done = true;
    }
    cv.notify_one();
  });
  allocator.join();
  freer.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_TRUE(q.empty());
}

TEST(BlockCache, MoreFreedBlocksThanTheCacheHolds) {
  // 1.5 x kMaxBlocks blocks of one class, allocated on one thread and freed on another, which
  // then allocates them all again (the first kMaxBlocks from its cache) and frees them.
  const int n = BlockCache::kMaxBlocks + BlockCache::kMaxBlocks / 2;
  std::vector<Block> blocks;
  std::thread([&] {
    for (int i = 0; i < n; ++i) blocks.push_back(make(200, static_cast<unsigned char>(i)));
  }).join();  // the allocating thread has exited (its own cache flushed)
  long bad = 0;
  std::thread([&] {
    for (const Block& b : blocks)
      if (!check_and_free(b)) ++bad;
    std::vector<Block> again;
    for (int i = 0; i < n; ++i) again.push_back(make(256, static_cast<unsigned char>(i)));
    for (const Block& b : again)
      if (!check_and_free(b)) ++bad;
  }).join();  // exits with a full cache: flushed
  EXPECT_EQ(bad, 0);
}

// A thread_local destroyed after the cache's flush (it was constructed before the cache's first
// use) still frees blocks (allocated while the cache was live, on this thread or another):
// they go to operator delete directly.
struct LateHolder {
  std::vector<Block> blocks;
  bool* ok = nullptr;
  ~LateHolder() {
    bool good = true;
    for (const Block& b : blocks) good &= check_and_free(b);
    if (ok) *ok = good;
  }
};

TEST(BlockCache, FreeingDuringThreadExitAfterTheFlush) {
  bool ok = false;
  Block foreign = make(300, 3);  // allocated here, freed by the other thread's late holder
  std::thread([&] {
    thread_local LateHolder holder;  // constructed before the thread's first BlockCache use
    holder.ok = &ok;
    holder.blocks.push_back(foreign);
    for (int i = 0; i < 10; ++i) holder.blocks.push_back(make(64 * (1 + i % 8), 5));
    // Some blocks in the cache too, so that the flush has work to do.
    for (int i = 0; i < 10; ++i) {
      const std::size_t size = 64 * (1 + i % 8);
      BlockCache::deallocate(BlockCache::allocate(size), size);
    }
  }).join();
  EXPECT_TRUE(ok);
}

// A block allocated after the flush must still be a whole block of its size class: freed later
// on a live thread, it joins that thread's cache and serves any request of the class.
struct LateAllocator {
  void** out = nullptr;
  ~LateAllocator() {
    if (out) *out = BlockCache::allocate(100);  // after the flush: the cache is dead
  }
};

TEST(BlockCache, AllocationDuringThreadExitAfterTheFlushIsAWholeClassBlock) {
  // After the thread-exit flush, allocate() must still return a whole size-class block: it
  // may be freed on a live thread and join that thread's cache as a full block of its class.
  void* late = nullptr;
  std::thread([&] {
    thread_local LateAllocator la;  // constructed first: destroyed after the cache's flush
    la.out = &late;
    BlockCache::deallocate(BlockCache::allocate(64), 64);
  }).join();
  ASSERT_NE(late, nullptr);
  BlockCache::deallocate(late, 100);  // this thread's cache is live: the block is cached
  void* p = BlockCache::allocate(128);  // the same class: served from the cache, LIFO
  EXPECT_EQ(p, late);
  EXPECT_GE(malloc_usable_size(p), 128u) << "a block of the 65..128 class holds fewer bytes";
  std::memset(p, 0, 128);
  BlockCache::deallocate(p, 128);
}

}  // namespace
