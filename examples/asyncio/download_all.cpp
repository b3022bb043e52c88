// Port of seed 002, §23 "Python Asyncio 并发编程详解": download three sites with asyncio —
// one thread, one event loop, a task per site:
//
//   async def download_one(url):
//       async with aiohttp.ClientSession() as session:
//           async with session.get(url) as resp:
//               print('Read {} from {}'.format(resp.content_length, url))
//   async def download_all(sites):
//       tasks = [asyncio.ensure_future(download_one(site)) for site in sites]
//       await asyncio.gather(*tasks)
//   loop = asyncio.get_event_loop(); loop.run_until_complete(download_all(sites)); loop.close()
//   print('Download {} sites in {} seconds'.format(len(sites), end_time - start_time))
//
// Each download spends nearly all its time waiting for the server; while one task waits, the
// loop runs the others, so the three downloads overlap and take about as long as the slowest.
// To show it in the numbers, the program also awaits the same three downloads one after another
// (the seed's earlier 单线程 version, on the loop): that takes the sum of the three.
//
// Differences from the seed:
// - Instead of c.biancheng.net, the sites are served by a small HTTP server that the program
//   starts on 127.0.0.1 (examples/common/download_sites.hpp, shared with futures_download_sites
//   and multiprocessing_download_sites). Its pages have the sizes the seed reports and answer
//   after 40, 100 and 70 ms, so when the downloads overlap they finish in the order /, /python,
//   /c (the seed's run lists them in the order of `sites`: its real servers answered fast).
// - aiohttp's part, session.get(url) and resp.content_length, is http_get() below: an HTTP/1.0
//   GET written over aio streams (open_connection, write + drain, readline for the status line
//   and headers, readexactly for the body of Content-Length bytes). The port number changes from
//   run to run.
// - asyncio.ensure_future(coro) is aio::create_task(coro), as the seed advises for Python 3.7+.
#include <concur/asyncio.hpp>

#include <cctype>
#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "download_sites.hpp"
#include "print.hpp"

namespace aio = concur::asyncio;

// What resp gives: the status line, the Content-Length header, the body.
struct Response {
  std::string status;
  std::size_t content_length = 0;
  std::string body;
};

// session.get(url): GET http://<host>:<port>/<path> over HTTP/1.0.
aio::Task<Response> http_get(std::string url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0)
    throw std::invalid_argument("http_get: not an http:// URL: " + url);
  const std::size_t host_end = url.find('/', scheme.size());
  const std::string hostport = url.substr(scheme.size(), host_end - scheme.size());
  const std::string path = host_end == std::string::npos ? "/" : url.substr(host_end);
  const std::size_t colon = hostport.find(':');
  const std::string host = hostport.substr(0, colon);
  const int port = colon == std::string::npos ? 80 : std::stoi(hostport.substr(colon + 1));

  auto [reader, writer] = co_await aio::open_connection(host, port);
  writer.write("GET " + path + " HTTP/1.0\r\nHost: " + hostport + "\r\n\r\n");
  co_await writer.drain();

  Response resp;
  resp.status = co_await reader.readline();  // "HTTP/1.0 200 OK\r\n"
  bool has_length = false;
  for (;;) {
    std::string header = co_await reader.readline();
    if (header == "\r\n" || header.empty()) break;
    const std::string name = "content-length:";
    std::string lower = header.substr(0, name.size());
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == name) {
      resp.content_length = std::stoul(header.substr(name.size()));
      has_length = true;
    }
  }
  if (has_length) {
    resp.body = co_await reader.readexactly(static_cast<std::ptrdiff_t>(resp.content_length));
  } else {
    resp.body = co_await reader.read();  // up to EOF
    resp.content_length = resp.body.size();
  }
  writer.close();
  co_await writer.wait_closed();
  if (resp.status.find(" 200 ") == std::string::npos)
    throw std::runtime_error("GET " + url + ": " + resp.status);
  co_return resp;
}

aio::Task<void> download_one(std::string url) {
  Response resp = co_await http_get(url);
  print("Read " + std::to_string(resp.content_length) + " from " + url);
}

// The seed's download_all: a task per site, all gathered.
aio::Task<void> download_all(std::vector<std::string> sites) {
  std::vector<aio::Task<void>> tasks;
  for (const std::string& site : sites) tasks.push_back(aio::create_task(download_one(site)));
  co_await aio::gather(std::move(tasks));
}

// The same downloads, each awaited before the next starts.
aio::Task<void> download_all_sequential(std::vector<std::string> sites) {
  for (const std::string& site : sites) co_await download_one(site);
}

int main() {
  download_sites::SeedSites server;  // the three sites, on 127.0.0.1
  const std::vector<std::string>& sites = server.sites();

  print("--- asyncio: create_task(download_one(site)) for each site, then gather()");
  const double concurrent = download_sites::timed(
      [](const std::vector<std::string>& s) {
        aio::EventLoop loop;  // loop = asyncio.get_event_loop()
        loop.run_until_complete(download_all(s));
        loop.close();
      },
      sites);
  print("(server: at most", server.take_max_in_flight(), "requests at a time)");

  print("--- for comparison: co_await download_one(site) for each site in turn");
  const double sequential = download_sites::timed(
      [](const std::vector<std::string>& s) { aio::run(download_all_sequential(s)); }, sites);
  print("(server: at most", server.take_max_in_flight(), "request at a time)");

  std::ostringstream speedup;
  speedup << std::fixed << std::setprecision(1)
          << "speed-up of the concurrent version over the sequential one: "
          << sequential / concurrent << "x";
  print(speedup.str());
}
