// concur/detail/tuning.hpp — every tuning constant of concur in one place, each with the
// reason for its value (in the manner of moodycamel's ConcurrentQueueDefaultTraits).
//
// Nothing here changes behaviour that a program can observe, only speed and memory: a constant
// may be changed for a machine unlike the 2-vCPU KVM guests these were measured on, and `make
// bench` shows the effect. The code that uses a constant says what it means there; this file
// says why it has its value.
#pragma once

#include <cstddef>
#include <cstdint>

namespace concur::detail::tuning {

// --- waiting: the spin before a sleep (detail/futex.hpp spin_until) --------------------------
//
// A spin is bounded in time, not in pauses: a pause takes 16 ns on this project's AMD Zen 5
// vCPUs and ~40 ns on recent Intel cores, and a spinner that is preempted mid-spin must stop
// once it runs again rather than finish a count. The clock is read every few pauses
// (steady_clock, ~22 ns through the vDSO here; CLOCK_MONOTONIC_COARSE is cheaper but ticks
// every 4 ms). Each thread keeps its own budget, adaptive as in glibc's adaptive mutexes: a spin
// that got its answer doubles the budget (up to kSpinMaxNs), one that had to give up halves it
// (down to kSpinFloorNs).
//
// Why these numbers, measured on the 2-vCPU KVM guests this project runs on (see
// bench/threading_bench.cpp: pingpong, pingpong-loaded, idle-wait):
//  - Once one side of a hand-off sleeps, waking it is slow: futex_wake() itself takes 3-7 us
//    (an IPI through the hypervisor), and the sleeper runs 4-15 us later (median; 15-50 us p90).
//    A partner that has just been woken answers only after those, so a spin shorter than them
//    (the old policy: 4-64 pauses, at most ~1 us) always misses it, and both threads then sleep
//    on every hand-off for good: an Event ping-pong made 30.6 K round trips/s on a quiet
//    machine, 0.12x std::binary_semaphore, where two threads that keep spinning make 1.5-4 M/s.
//    kSpinMaxNs covers a wake-up and the partner's answer, and is about what the sleep would
//    have cost (the classic bound: spin no longer than blocking costs).
//  - When the partner cannot run while we spin (it shares our CPU, or other programs keep the
//    CPUs busy), every pause delays it; then the budget falls to kSpinFloorNs, a token spin.
//  - A thread at the floor cannot find out by itself that spinning would pay again (its short
//    spins keep missing a partner that is busy in futex_wake), so every kSpinProbeEvery-th spin
//    at the floor is a probe with the full kSpinMaxNs; when it gets its answer the thread is back
//    at the full budget. Costs at most kSpinMaxNs / kSpinProbeEvery (0.6 us) per wait on
//    average when probes fail.
//  - A wait nobody answers spins at most kSpinMaxNs (20 us) and then sleeps: under 0.1% of a
//    CPU over a 200 ms wait, 1-2% for back-to-back 1 ms timed waits (idle-wait in the bench).
//  - No spinning at all when the process may use a single CPU (spinning_can_help()).
constexpr std::int64_t kSpinFloorNs = 250;     // ~15 pauses: a token spin
constexpr std::int64_t kSpinMaxNs = 20000;     // a futex wake-up and an answer
constexpr std::int64_t kSpinInitialNs = 4000;  // a new thread's budget
constexpr int kSpinProbeEvery = 32;            // at the floor: one full spin in 32
constexpr int kSpinPausesPerClockRead = 4;     // ~65 ns between reads here

// --- detail::Mutex (src/detail/mutex.cpp) ------------------------------------------------------
// The lock's own spin, while nobody sleeps on it: looks at the word after 1, 2, 4 ... pauses, up
// to this many between looks. Exponential backoff lets the holder run uncontended batches; a
// waiter that looks at every pause snatches each release and the threads alternate at
// cache-miss speed (2 threads hammering one lock, 2 vCPUs: 44-54 M/s against 26-45 M/s).
constexpr int kMutexLongestBackoff = 32;
// The same for the process-shared robust lock (multiprocessing/detail/robust_mutex.hpp): a
// sleeper there costs more to wake (a shared futex: the kernel looks its page up on every wait
// and wake), so its waiter looks longer before it sleeps. 2 processes hammering one mp::Lock on
// 2 vCPUs: 74-96 M/s with 128 against 60-64 M/s with 32 (a pshared pthread_mutex_t: 15-57 M/s
// in the same runs).
constexpr int kSharedLockLongestBackoff = 128;
// The spin of a side of a multiprocessing queue's ring (byte_ring.cpp) that finds nothing to do:
// it looks at the other side's position after 1, 2, 4 ... pauses, up to this many between looks.
// Each look takes the other side's cache line from it; a consumer that looks at every pause
// takes it back after every item the producer publishes, and the producer then pays a miss per
// item. See the README's mp::Queue figures.
constexpr int kRingLongestBackoff = 64;

// --- detail::DeferredWakes (detail/wait_node.hpp) --------------------------------------------
// Wake-ups held back until a lock is released (wait morphing). Notifications under a lock
// rarely wake more than a few waiters; beyond this many they are sent at once.
constexpr int kDeferredWakesInline = 4;

// --- detail::BlockCache (detail/block_cache.hpp): one block per submitted task ---------------
constexpr std::size_t kBlockGranule = 64;   // size classes: multiples of a cache line
constexpr std::size_t kBlockMaxSize = 512;  // a task with its arguments is rarely larger
// Per thread and size class: more than a batch of futures alive at once (glibc's own per-thread
// cache holds 7 blocks per size, so without this every batch runs malloc's slow paths).
constexpr int kBlockCacheMaxBlocks = 1024;

// --- queues (queue/detail/) --------------------------------------------------------------------
constexpr std::size_t kCacheLine = 64;  // producers' and consumers' indices on separate lines
// SegmentedFifo: positions per block (one of them marks the block's end, so 63 items). Large
// enough that allocating a block (or reusing the spare one) is rare, small enough that an
// almost empty queue holds little memory.
constexpr std::size_t kFifoBlockPositions = 64;
// Queue(n) up to this bound is a BoundedRing of exactly n cells allocated up front; beyond it,
// a SegmentedFifo with a count of places (a Queue(10'000'000) does not allocate 10 M cells).
constexpr std::size_t kMaxRingCapacity = std::size_t{1} << 16;
// ShortWait: rounds of growing pause bursts (1, 1, 1, 1, 2, 2, ... 8 pauses: ~60 in all) before
// it starts yielding to a thread that may have been preempted on our CPU.
constexpr int kShortWaitPauseRounds = 16;

// --- fork (detail/at_fork.hpp) -------------------------------------------------------------------
// Handlers registered at static initialisation, a fixed array (no allocation): concur registers
// fewer than ten.
constexpr int kMaxAtForkHandlers = 32;

// --- actors (actors/detail/mailbox.hpp, src/actors/scheduler.cpp) ------------------------------
// A mailbox is a queue's lock-free FIFO with blocks of this many positions (15 messages) instead
// of a queue's 64: an idle actor keeps one block, and 100,000 actors may be alive at once (for an
// int, a block is 192 bytes instead of 576); a steady stream of messages still allocates nothing
// (the spare block is reused), it only switches blocks 4x as often.
constexpr std::size_t kMailboxBlockPositions = 16;
// An AsyncActor that keeps finding messages goes on without suspending for this many receives,
// then yields its worker to the other ready actors (tokio's budget has the same value).
constexpr unsigned kActorRecvBudget = 128;
// An actor woken by an actor runs next on the same worker (no cross-CPU hand-off: ping-pong
// stays on one core); after this many such turns in a row the worker takes from the shared queue
// again, so that two actors feeding each other cannot starve the rest.
constexpr unsigned kActorNextSlotRun = 32;

// --- multiprocessing (src/multiprocessing/connection.cpp) ---------------------------------------
// A Connection's recv reads up to this many bytes at once and keeps what lies beyond the frame
// for the next recv: a small frame costs one read, not two (header, then payload). Allocated at
// a Connection's first recv; larger payloads are read straight into their own buffer.
constexpr std::size_t kConnectionReadAheadBytes = std::size_t{16} << 10;

}  // namespace concur::detail::tuning
