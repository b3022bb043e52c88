// What the ports of seed 002, §22 "Python Futures 并发编程详解" share: the thread version
// (examples/futures/download_sites.cpp) and the process version
// (examples/multiprocessing/download_sites.cpp) download the same three sites with the same
// download_one() and time each way of calling it with the same timed().
//
// Instead of c.biancheng.net, the sites are served by a small HTTP server started by the program
// on 127.0.0.1 (http_fixture.hpp; requests.get() becomes http_fixture::http_get()). Its pages have
// the sizes the seed reports (52053, 30718 and 34470 bytes) and answer after 40, 100 and 70 ms, so
// the sites always finish in the same order when they are downloaded at the same time: /, /python,
// /c — the order the seed's as_completed() run shows. The port number changes from run to run.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "http_fixture.hpp"
#include "print.hpp"

namespace download_sites {

using namespace std::chrono_literals;

// The seed's three sites, served while this object lives.
class SeedSites {
 public:
  SeedSites()
      : server_({
            {"/", {http_fixture::html_page("c.biancheng.net", 52053), 40ms}},
            {"/c", {http_fixture::html_page("C语言教程", 30718), 100ms}},
            {"/python", {http_fixture::html_page("Python教程", 34470), 70ms}},
        }),
        sites_{server_.url("/"), server_.url("/c"), server_.url("/python")} {}

  const std::vector<std::string>& sites() const { return sites_; }

  // The largest number of requests the server was serving at the same time since the last call.
  int take_max_in_flight() { return server_.take_max_in_flight(); }

 private:
  http_fixture::Server server_;
  std::vector<std::string> sites_;
};

// def download_one(url): resp = requests.get(url); print('Read {} from {}'.format(...)).
// The seed's returns nothing (None); concur's map() needs a function that returns a value, so this
// one returns the number of bytes it read. A plain function taking its argument by value: a
// process pool can run it too (its argument and result cross between processes).
inline std::size_t download_one(std::string url) {
  std::string content = http_fixture::http_get(url);  // resp = requests.get(url)
  print("Read " + std::to_string(content.size()) + " from " + url);
  return content.size();
}

// start_time = time.perf_counter(); download_all(sites); end_time = ...; print('Download {} sites
// in {} seconds'.format(...)). Returns the seconds.
template <class DownloadAll>
double timed(DownloadAll download_all, const std::vector<std::string>& sites) {
  const auto start_time = std::chrono::steady_clock::now();
  download_all(sites);
  const auto end_time = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(end_time - start_time).count();
  print("Download " + std::to_string(sites.size()) + " sites in", seconds, "seconds");
  return seconds;
}

}  // namespace download_sites
