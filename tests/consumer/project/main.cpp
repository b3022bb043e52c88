// A program outside the concur tree, built against the installed (or embedded) package.
#include <concur/threading.hpp>

#include <cstdio>
#include <vector>

namespace th = concur::threading;
using namespace std::chrono_literals;

int main() {
  th::Lock lock;
  th::Event go;
  int total = 0;
  std::vector<th::Thread> workers;
  for (int i = 1; i <= 4; ++i)
    workers.emplace_back(
        [&](int n) {
          go.wait();
          std::lock_guard g(lock);
          total += n;
        },
        i);
  for (auto& w : workers) w.start();
  go.set();
  for (auto& w : workers)
    if (!w.join(30s)) {
      std::fprintf(stderr, "consumer: a worker did not finish\n");
      return 1;
    }
  if (total != 10 || th::current_thread().name() != "MainThread") {
    std::fprintf(stderr, "consumer: wrong result %d\n", total);
    return 1;
  }
  std::printf("consumer ok: total=%d\n", total);
  return 0;
}
