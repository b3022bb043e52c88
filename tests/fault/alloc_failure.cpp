// The replaced global operator new and delete of the fault tests (alloc_failure.hpp).
#include "alloc_failure.hpp"

#include <cstdlib>
#include <new>

namespace concur_test::fault {
namespace {

// Per thread, so that the threads a call starts (and the test watchdog) allocate normally.
// Constant-initialised: reading them allocates nothing and needs no TLS constructor.
thread_local long t_countdown = 0;  // 0: off; otherwise allocations left before the failure
thread_local bool t_injected = false;

// True if this allocation is the one to fail.
bool should_fail() noexcept {
  if (t_countdown == 0) return false;
  if (--t_countdown != 0) return false;
  t_injected = true;
  return true;
}

void* allocate(std::size_t n) noexcept { return std::malloc(n == 0 ? 1 : n); }

void* allocate_aligned(std::size_t n, std::align_val_t al) noexcept {
  void* p = nullptr;
  std::size_t align = static_cast<std::size_t>(al);
  if (align < sizeof(void*)) align = sizeof(void*);
  if (::posix_memalign(&p, align, n == 0 ? 1 : n) != 0) return nullptr;
  return p;
}

}  // namespace

void arm_allocation_failure(long k) noexcept {
  t_injected = false;
  t_countdown = k;
}

bool disarm_allocation_failure() noexcept {
  t_countdown = 0;
  const bool injected = t_injected;
  t_injected = false;
  return injected;
}

}  // namespace concur_test::fault

using concur_test::fault::allocate;
using concur_test::fault::allocate_aligned;
using concur_test::fault::should_fail;

void* operator new(std::size_t n) {
  if (should_fail()) throw std::bad_alloc();
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return should_fail() ? nullptr : allocate(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return ::operator new(n, std::nothrow);
}
void* operator new(std::size_t n, std::align_val_t al) {
  if (should_fail()) throw std::bad_alloc();
  if (void* p = allocate_aligned(n, al)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t al) { return ::operator new(n, al); }
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return should_fail() ? nullptr : allocate_aligned(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return ::operator new(n, al, std::nothrow);
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
