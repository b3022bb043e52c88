// Port of seed 002, §22 "Python Futures 并发编程详解": download three sites, first one after
// another, then on a ThreadPoolExecutor(max_workers=5) with executor.map(), then with
// executor.submit() and as_completed(), timing each version with a steady clock (the seed's
// time.perf_counter()). The work is I/O: each download spends nearly all its time waiting for the
// server, so the threads wait at the same time and the pool versions take about as long as the
// slowest site instead of the sum of all three.
//
// Differences from the seed:
// - Instead of c.biancheng.net, the sites are served by a small HTTP server that the program
//   starts on 127.0.0.1 (examples/common/download_sites.hpp, which this port shares with the
//   process version, multiprocessing_download_sites). Its pages have the sizes the seed reports
//   and answer after 40, 100 and 70 ms, so in the pool versions (download_one() prints when its
//   download ends) the sites finish in the order the seed's as_completed() run shows: /, /python,
//   /c.
// - After each version the server says how many requests it was serving at the same time:
//   1 for the sequential version, 3 for the pool versions.
// - The seed also swaps in ProcessPoolExecutor and says it does not help I/O-bound work: that
//   version is multiprocessing_download_sites.
#include <concur/futures.hpp>

#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "download_sites.hpp"
#include "print.hpp"

namespace cf = concur::futures;

using download_sites::download_one;
using download_sites::timed;

// 单线程: one site after another.
void download_all_sequential(const std::vector<std::string>& sites) {
  for (const auto& site : sites) download_one(site);
}

// 多线程: executor.map() calls download_one() for every site at once.
void download_all_map(const std::vector<std::string>& sites) {
  cf::ThreadPoolExecutor executor(5);
  // The seed drops map()'s results and lets the end of the with block wait for the calls. Here
  // the results are read (destroying an unread map range would cancel calls not yet started),
  // which also rethrows any download error.
  for (std::size_t n : executor.map(download_one, sites)) (void)n;
}

// Futures: submit() each download, then take the futures as they complete.
void download_all_as_completed(const std::vector<std::string>& sites) {
  cf::ThreadPoolExecutor executor(5);
  std::vector<cf::Future<std::size_t>> to_do;
  for (const auto& site : sites) {
    cf::Future<std::size_t> future = executor.submit(download_one, site);
    to_do.push_back(future);
  }
  for (cf::Future<std::size_t> future : cf::as_completed(to_do)) future.result();
}

int main() {
  download_sites::SeedSites server;  // the three sites, on 127.0.0.1
  const std::vector<std::string>& sites = server.sites();

  print("--- 单线程: download_one() for each site in turn");
  const double sequential = timed(download_all_sequential, sites);
  print("(server: at most", server.take_max_in_flight(), "request at a time)");

  print("--- 多线程: ThreadPoolExecutor(max_workers=5), executor.map(download_one, sites)");
  const double mapped = timed(download_all_map, sites);
  print("(server: at most", server.take_max_in_flight(), "requests at a time)");

  print("--- Futures: executor.submit(download_one, site) for each site, then as_completed()");
  const double completed = timed(download_all_as_completed, sites);
  print("(server: at most", server.take_max_in_flight(), "requests at a time)");

  std::ostringstream speedup;
  speedup << std::fixed << std::setprecision(1) << "speed-up over the sequential version: map "
          << sequential / mapped << "x, as_completed " << sequential / completed << "x";
  print(speedup.str());
}
