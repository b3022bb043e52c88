// Port of seed 002, §22 "Python Futures 并发编程详解": download three sites, first one after
// another, then on a ThreadPoolExecutor(max_workers=5) with executor.map(), then with
// executor.submit() and as_completed(), timing each version with a steady clock (the seed's
// time.perf_counter()). The work is I/O: each download spends nearly all its time waiting for the
// server, so the threads wait at the same time and the pool versions take about as long as the
// slowest site instead of the sum of all three.
//
// Differences from the seed:
// - Instead of c.biancheng.net, the sites are served by a small HTTP server that the program
//   starts on 127.0.0.1 (common/http_fixture.hpp; requests.get() becomes http_fixture::http_get()).
//   Its pages have the sizes the seed reports (52053, 30718 and 34470 bytes) and answer after
//   40, 100 and 70 ms, so the sites always finish in the same order: in the pool versions
//   (download_one() prints when its download ends) that is /, /python, /c — the order the
//   seed's as_completed() run shows. The port number changes from run to run.
// - After each version the server says how many requests it was serving at the same time:
//   1 for the sequential version, 3 for the pool versions.
// - The seed also mentions swapping in ProcessPoolExecutor and says it does not help I/O-bound
//   work; that variant belongs to the multiprocessing examples.
#include <concur/futures.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/http_fixture.hpp"
#include "print.hpp"

namespace cf = concur::futures;
using namespace std::chrono_literals;

// The seed's download_one() returns nothing (None); concur's map() needs a function that returns
// a value, so this one returns the number of bytes it read.
std::size_t download_one(const std::string& url) {
  std::string content = http_fixture::http_get(url);  // resp = requests.get(url)
  print("Read " + std::to_string(content.size()) + " from " + url);
  return content.size();
}

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

double timed(void (*download_all)(const std::vector<std::string>&),
             const std::vector<std::string>& sites) {
  const auto start_time = std::chrono::steady_clock::now();
  download_all(sites);
  const auto end_time = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(end_time - start_time).count();
  print("Download " + std::to_string(sites.size()) + " sites in", seconds, "seconds");
  return seconds;
}

int main() {
  http_fixture::Server server({
      {"/", {http_fixture::html_page("c.biancheng.net", 52053), 40ms}},
      {"/c", {http_fixture::html_page("C语言教程", 30718), 100ms}},
      {"/python", {http_fixture::html_page("Python教程", 34470), 70ms}},
  });
  const std::vector<std::string> sites = {server.url("/"), server.url("/c"), server.url("/python")};

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
