// Port of seed 001 (Semaphore 对象 ... 可以通知单一线程) and seed 003 §1.2: ten workers block on a
// Semaphore(0); each release() lets exactly one through — the one that has waited longest — so
// releasing one at a time prints Working 0, Working 1, Working 2, ...
#include <concur/threading.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "print.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

constexpr int nworkers = 10;

void worker(int n, th::Semaphore& sema, th::Event& done) {
  sema.acquire();
  print("Working", n);
  done.set();  // lets main wait for this line before its next release (the seed's user reads it)
}

// Wait until `count` threads are asleep in sema.acquire(). Polling is fine in an example; it is
// bounded so that a broken library cannot hang the tour.
void wait_for_waiters(const th::Semaphore& sema, std::size_t count) {
  for (int i = 0; sema.n_waiting() < count; ++i) {
    if (i == 5000) throw concur::RuntimeError("workers did not reach acquire()");
    th::sleep(1ms);
  }
}

int main() {
  th::Semaphore sema(0);  // 参数是初始的信号数
  std::array<th::Event, nworkers> done;
  std::vector<th::Thread> threads;
  for (int n = 0; n < nworkers; ++n) {
    threads.emplace_back(worker, n, std::ref(sema), std::ref(done[n]));
    threads.back().start();
    // Worker n is queued behind workers 0..n-1 before worker n+1 starts: the queue is in order.
    wait_for_waiters(sema, n + 1);
  }
  print("10 workers waiting; nothing happens until a release()");

  for (int n = 0; n < 3; ++n) {  // the seed's In [4]..In [6]
    print(">>> sema.release()");
    sema.release();
    done[n].wait();
  }

  // The seed stops here, leaving seven threads blocked forever; we let them all finish.
  print(">>> sema.release(7)");
  sema.release(nworkers - 3);
  for (auto& t : threads) t.join();
}
