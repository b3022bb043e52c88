// Port of seed 002, §3 "Python 线程的生命周期（新建、就绪、运行、阻塞和死亡）": a thread goes from
// 新建 (created, before start()) to 就绪/运行 (started; the scheduler decides when it is on a
// CPU) and, when it calls sleep(), takes a lock another thread holds, or wait()s for a set(), to
// 阻塞 until that is over, and ends in 死亡 when its function returns. Starting it twice, or again
// once dead, raises RuntimeError; calling run() directly runs it in the calling thread.
//
// th::Thread::state() (ThreadRef::state() for any thread) shows each of these states: NEW,
// RUNNING (就绪 and 运行 together: concur cannot see whether the kernel has it on a CPU), BLOCKED
// — with what it waits for — and TERMINATED. The main thread watches one thread through its life,
// each stage held until the main thread has seen it: the thread computes until told to stop,
// sleeps, reads "user input" from a pipe, takes a lock the main thread holds, and waits for an
// Event the main thread sets.
//
// BLOCKED means asleep in a concur wait. Waiting for input is a read() system call, not a concur
// wait: state() cannot see it and still says RUNNING, though the kernel has the thread asleep (the
// program shows the kernel's view too, from /proc).
//
// The main thread sees each state by polling state() (a snapshot, never a wait on the thread)
// every millisecond until it shows the stage; the order of the output never depends on timing.
#include <concur/threading.hpp>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>

#include "print.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

std::string chinese(th::ThreadState s) {
  switch (s) {
    case th::ThreadState::NEW: return "新建";
    case th::ThreadState::RUNNING: return "就绪/运行";
    case th::ThreadState::BLOCKED: return "阻塞";
    case th::ThreadState::TERMINATED: return "死亡";
  }
  return "?";
}

th::Lock lock("账户锁");
th::Event notice;
std::atomic<bool> keep_computing{true};
std::atomic<bool> reading{false};
int input_pipe[2];

void show(const std::string& what, const th::ThreadStatus& status) {
  std::ostringstream s;
  s << status;  // e.g. BLOCKED waiting for lock "账户锁" (held by "MainThread")
  std::string text = s.str();
  // An Event has no name: state() names it by its address ("Event at 0x55d2..."), which changes
  // from run to run; the tour names it after its variable instead.
  std::ostringstream address;
  address << "Event at " << static_cast<const void*>(&notice);
  if (auto at = text.find(address.str()); at != std::string::npos) {
    text.replace(at, address.str().size(), "Event notice");
  }
  print(what + ":", text, " (" + chinese(status.state) + ")");
}

// Polls t.state() until pred accepts it, and returns that snapshot.
th::ThreadStatus wait_until(const th::Thread& t, const std::function<bool(const th::ThreadStatus&)>& pred) {
  while (true) {
    th::ThreadStatus s = t.state();
    if (pred(s)) return s;
    th::sleep(1ms);
  }
}
auto blocked_on(const std::string& kind) {
  return [kind](const th::ThreadStatus& s) { return s == th::ThreadState::BLOCKED && s.wait_kind == kind; };
}

// The kernel's view of a thread: the state letter of /proc/self/task/<tid>/stat (R running or
// runnable, S sleeping, ...).
char kernel_state(std::uint64_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto paren = line.rfind(')');  // the name in parentheses may contain blanks
  return paren == std::string::npos || paren + 2 >= line.size() ? '?' : line[paren + 2];
}

void life() {
  // 运行: compute until the main thread says stop (a busy loop: no wait of any kind)
  volatile std::uint64_t x = 0;
  while (keep_computing.load(std::memory_order_relaxed)) x = x + 1;
  // 阻塞 1: the thread calls sleep()
  th::sleep(300ms);
  // 阻塞 2: it waits for "user input" (a line on a pipe)
  reading.store(true);
  char buf[64];
  while (::read(input_pipe[0], buf, sizeof buf) < 0 && errno == EINTR) {
  }
  // 阻塞 3: it takes a lock that another thread holds
  { std::lock_guard g(lock); }
  // 阻塞 4: it wait()s until another thread calls set()
  notice.wait();
}  // 死亡: the function returns

class my_Thread : public th::Thread {
 public:
  void run() override { print("my_Thread.run() runs in", th::current_thread().name()); }
};

int main() {
  if (::pipe(input_pipe) < 0) return 1;

  th::Thread t(life);
  show("t = Thread(target=life)", t.state());

  std::unique_lock held(lock);  // the main thread holds the lock the thread will need
  t.start();
  show("t.start(); t computes", t.state());
  keep_computing.store(false);

  show("t calls sleep(0.3)", wait_until(t, blocked_on("sleep")));

  wait_until(t, [](const th::ThreadStatus&) { return reading.load(); });
  // (up to 2 s: where /proc cannot be read, the kernel's view is '?')
  for (int i = 0; i < 2000 && kernel_state(*t.native_id()) != 'S'; ++i) th::sleep(1ms);
  show("t waits for input (read() on a pipe)", t.state());
  const char k = kernel_state(*t.native_id());
  print("   ... not a concur wait, so state() says RUNNING; the kernel says",
        std::string(1, k) + (k == 'S' ? " (sleeping)" : ""));
  if (::write(input_pipe[1], "input\n", 6) != 6) return 1;

  show("t takes the lock the main thread holds", wait_until(t, blocked_on("lock")));
  held.unlock();

  show("t calls notice.wait()", wait_until(t, blocked_on("event")));
  notice.set();

  t.join();
  show("t's function has returned", t.state());

  try {
    t.start();
  } catch (const concur::RuntimeError& e) {
    print("t.start() again: RuntimeError:", e.what());
  }

  print("--- calling run() directly is an ordinary call, made by the main thread");
  my_Thread m;
  m.run();
  show("m after m.run()", m.state());
}
