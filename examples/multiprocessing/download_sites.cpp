// Port of seed 002, §22 "Python Futures 并发编程详解", its last variant: the same download_all() with
// `with futures.ProcessPoolExecutor() as executor:` swapped in for the ThreadPoolExecutor: the
// three sites are downloaded by worker processes. The seed's point, shown here with the timings:
// processes are for CPU-heavy work; for I/O-heavy work, where each task spends its time waiting,
// they buy nothing over threads, and "because of the number of CPUs" can do worse: the pool has
// one worker per CPU (ProcessPoolExecutor() leaves out max_workers), so on a machine with fewer
// CPUs than sites, some downloads wait for a worker, where 5 threads start all three at once.
//
// The program times four versions: one site after another (单线程), executor.map() on a
// ThreadPoolExecutor(max_workers=5) (多线程, the thread version: futures_download_sites), on a
// ProcessPoolExecutor() (one worker per CPU), and on a ProcessPoolExecutor(3) (a worker for each
// site). After each, the server says how many requests it was serving at the same time: with
// ProcessPoolExecutor() on a 2-CPU machine, 2.
//
// What differs from the seed:
// - Instead of c.biancheng.net, the sites are served by a small HTTP server that the program
//   starts on 127.0.0.1, with the sizes the seed reports, answering after 40, 100 and 70 ms
//   (examples/common/download_sites.hpp, shared with futures_download_sites). The server runs in
//   the main process; download_one() runs in the workers, which print its "Read ..." lines.
// - download_one() returns the number of bytes it read (concur's map() needs a value); the
//   program reads map()'s results, which also rethrows any download error.
// - The process pool's times include starting its workers (a fork each) and shutting them down,
//   as the seed's `with` block does.
#include <concur/futures.hpp>
#include <concur/multiprocessing.hpp>

#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "download_sites.hpp"
#include "print.hpp"

namespace cf = concur::futures;
namespace mp = concur::multiprocessing;

using download_sites::download_one;
using download_sites::timed;

// 单线程: one site after another.
void download_all_sequential(const std::vector<std::string>& sites) {
  for (const auto& site : sites) download_one(site);
}

// 多线程: executor.map() on 5 threads.
void download_all_threads(const std::vector<std::string>& sites) {
  cf::ThreadPoolExecutor executor(5);
  for (std::size_t n : executor.map(download_one, sites)) (void)n;
}

// 多进程: with futures.ProcessPoolExecutor() as executor: executor.map(download_one, sites)
void download_all_processes(const std::vector<std::string>& sites) {
  cf::ProcessPoolExecutor executor;  // one worker per CPU
  for (std::size_t n : executor.map(download_one, sites)) (void)n;
}

// The same with a worker for each site.
void download_all_3_processes(const std::vector<std::string>& sites) {
  cf::ProcessPoolExecutor executor(3);
  for (std::size_t n : executor.map(download_one, sites)) (void)n;
}

int main(int argc, char** argv) {
  mp::main_guard(argc, argv);  // if __name__ == '__main__':
  download_sites::SeedSites server;  // the three sites, on 127.0.0.1
  const std::vector<std::string>& sites = server.sites();
  auto in_flight = [&server](const std::string& what) {
    const int n = server.take_max_in_flight();
    print("(server: at most " + std::to_string(n) + (n == 1 ? " request" : " requests") +
          " at a time: " + what + ")");
  };

  print("--- 单线程: download_one() for each site in turn");
  const double sequential = timed(download_all_sequential, sites);
  in_flight("one process, one thread");

  print("--- 多线程: ThreadPoolExecutor(max_workers=5), executor.map(download_one, sites)");
  const double threads = timed(download_all_threads, sites);
  in_flight("5 threads");

  print("--- 多进程: ProcessPoolExecutor(), executor.map(download_one, sites)");
  const double processes = timed(download_all_processes, sites);
  in_flight(std::to_string(mp::cpu_count()) + " worker processes, one per CPU");

  print("--- ProcessPoolExecutor(3): a worker process for each site");
  const double processes3 = timed(download_all_3_processes, sites);
  in_flight("3 worker processes");

  std::ostringstream speedup;
  speedup << std::fixed << std::setprecision(1)
          << "speed-up over the sequential version: threads " << sequential / threads
          << "x, ProcessPoolExecutor() " << sequential / processes
          << "x, ProcessPoolExecutor(3) " << sequential / processes3 << "x";
  print(speedup.str());
}
