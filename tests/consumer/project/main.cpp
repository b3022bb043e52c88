// A program outside the concur tree, built against the installed (or embedded) package, with
// the build's compiler (g++ or clang): it includes every module through the umbrella header and
// uses the templates a new user reaches first (Thread, submit, map, a Future as a key, Queue).
#include <concur/concur.hpp>

#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

namespace th = concur::threading;
namespace cf = concur::futures;
namespace cq = concur::queue;
using namespace std::chrono_literals;

int square(int x) { return x * x; }

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

  cf::ThreadPoolExecutor pool(2);
  std::unordered_map<cf::Future<std::size_t>, std::string> future_to_word;
  for (std::string w : {"a", "bb", "ccc"})
    future_to_word.emplace(pool.submit([](const std::string& s) { return s.size(); }, w), w);
  std::size_t letters = 0;
  for (cf::Future<std::size_t> f : cf::as_completed(future_to_word, 30s)) letters += f.result();
  auto squares = pool.map(square, std::vector<int>{1, 2, 3});
  const std::vector<int> collected(squares.begin(), squares.end());
  cq::Queue<int> q(4);
  q.put(7);
  if (letters != 6 || collected != std::vector<int>{1, 4, 9} || q.get(30s) != 7) {
    std::fprintf(stderr, "consumer: wrong futures or queue results\n");
    return 1;
  }
  std::printf("consumer ok: total=%d letters=%zu\n", total, letters);
  return 0;
}
