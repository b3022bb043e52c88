// From seed 002, §8 "什么是死锁，如何避免死锁（4 种方法）": a deadlocked program "既不会发生任何异常，
// 也不会给出任何提示，只是所有线程都处于阻塞状态，无法继续", and the 4th way out is 死锁检测. The other
// side of that lesson: threads that are all blocked, for a long time, are not necessarily
// deadlocked. A deadlock is a cycle — each thread waits for the next — and a detector that
// reported every long wait would cry wolf at every slow program.
//
// Here five threads block for 1.5 s with dl::start_watchdog(100ms) looking every 0.1 s:
//   写入者 (the writer) takes the Lock "数据库锁" and waits for the Event `go`, which the main
//     thread sets once it is done looking;
//   读者-1..3 (readers) wait for "数据库锁", held by the writer;
//   汇总者 (the collector) join()s the writer.
// Every wait leads to a thread that can go on (the chain ends at the main thread, which is not
// waiting), so there is no cycle: dl::find_deadlocks() returns none, the watchdog (its reaction
// set to a handler that would print any report on stdout) stays silent, and once `go` is set,
// everybody finishes. The main thread sees the threads blocked by polling their state()
// (a snapshot) every millisecond; the order of the output never depends on timing.
#include <concur/deadlock.hpp>
#include <concur/threading.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "print.hpp"

namespace dl = concur::deadlock;
namespace th = concur::threading;
using namespace std::chrono_literals;

th::Lock db("数据库锁");
th::Event go;

// An Event has no name: state() names it by its address, which changes from run to run; the
// tour names it after its variable instead.
std::string describe(const th::ThreadStatus& status) {
  std::ostringstream s, address;
  s << status;
  std::string text = s.str();
  address << "Event at " << static_cast<const void*>(&go);
  if (auto at = text.find(address.str()); at != std::string::npos) {
    text.replace(at, address.str().size(), "Event go");
  }
  for (const auto& h : status.holds) text += "; holds " + h;
  return text;
}

void wait_until_blocked(const th::Thread& t) {
  while (t.state() != th::ThreadState::BLOCKED) th::sleep(1ms);
}

int main() {
  std::atomic<int> reports{0};
  dl::set_reaction([&](const dl::Report& r) {
    ++reports;
    print("watchdog report:", r.message);
  });
  dl::start_watchdog(100ms);
  print("dl::start_watchdog(100ms): watchdog_running() =", dl::watchdog_running() ? "true" : "false");

  th::Thread writer(th::ThreadOptions{.name = "写入者"}, [] {
    std::lock_guard g(db);
    go.wait();  // a long, legitimate wait, holding the lock
  });
  writer.start();
  wait_until_blocked(writer);

  std::vector<std::unique_ptr<th::Thread>> readers;
  for (int i = 1; i <= 3; ++i) {
    readers.push_back(std::make_unique<th::Thread>(
        th::ThreadOptions{.name = "读者-" + std::to_string(i)}, [] { std::lock_guard g(db); }));
    readers.back()->start();
    wait_until_blocked(*readers.back());
  }
  th::Thread collector(th::ThreadOptions{.name = "汇总者"}, [&] { writer.join(); });
  collector.start();
  wait_until_blocked(collector);

  th::sleep(1500ms);  // a long wait: the watchdog looks about 15 times
  print("after 1.5 s, every thread is still blocked:");
  print("  " + writer.name() + ":", describe(writer.state()));
  for (const auto& r : readers) print("  " + r->name() + ":", describe(r->state()));
  print("  " + collector.name() + ":", describe(collector.state()));

  const auto cycles = dl::find_deadlocks();
  print("dl::find_deadlocks():", cycles.size(), "cycles —",
        cycles.empty() ? "blocked, but no deadlock: every wait leads to a thread that can go on"
                       : "a deadlock?!");
  print("watchdog reports so far:", reports.load());

  print("main: go.set()");
  go.set();
  writer.join();
  for (auto& r : readers) r->join();
  collector.join();
  print("all threads finished:", writer.state(), readers[0]->state(), readers[1]->state(),
        readers[2]->state(), collector.state());

  dl::stop_watchdog();
  dl::set_reaction(dl::Reaction::print);
  print("watchdog reports in all:", reports.load(), "— no deadlock, so nothing to report");
}
