// Port of seed 000, §12.7 "创建一个线程池" and seed 001, "创建一个线程池" (In [17] - In [19]):
// fetch_url() submitted twice to a ThreadPoolExecutor(10); a.result() and b.result() block until
// each page has been read, and the program prints the first 1000 bytes of each (x[:1000],
// y[:1000]) as Python shows a bytes object: b'...' with \n, \t and quotes escaped.
//
// Differences from the seed:
// - www.python.org and www.pypy.org are two small HTTP servers started by the program on
//   127.0.0.1 (examples/common/http_fixture.hpp), serving the beginnings of the pages the seed
//   shows, so the output is the seed's (each page continues a little beyond what the seed
//   printed, so x[:1000] shows a few more bytes). urllib.request.urlopen(url).read() becomes
//   http_fixture::http_get(url). The port numbers change from run to run.
// - Each server takes 100 ms to answer; the program also prints how long the two fetches took
//   together: about 100 ms, not 200, since the pool fetched both pages at the same time.
#include <concur/futures.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include "http_fixture.hpp"
#include "print.hpp"

namespace cf = concur::futures;
using namespace std::chrono_literals;

// The two pages: what the seed shows of them (In [18], In [19]), and a short ending.
const std::string python_org_html =
    "<!doctype html>\n"
    "<!--[if lt IE 7]>   <html class=\"no-js ie6 lt-ie7 lt-ie8 lt-ie9\">   <![endif]-->\n"
    "<!--[if IE 7]>      <html class=\"no-js ie7 lt-ie8 lt-ie9\">          <![endif]-->\n"
    "<!--[if IE 8]>      <html class=\"no-js ie8 lt-ie9\">                 <![endif]-->\n"
    "<!--[if gt IE 8]><!--><html class=\"no-js\" lang=\"en\" dir=\"ltr\">  <!--<![endif]-->\n"
    "\n"
    "<head>\n"
    "    <meta charset=\"utf-8\">\n"
    "    <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\">\n"
    "\n"
    "    <link rel=\"prefetch\" href=\"//ajax.googleapis.com/ajax/libs/jquery/1.8.2/jquery.min.js\">\n"
    "\n"
    "    <meta name=\"application-name\" content=\"Python.org\">\n"
    "    <meta name=\"msapplication-tooltip\" content=\"The official home of the Python Programming Language\">\n"
    "    <meta name=\"apple-mobile-web-app-title\" content=\"Python.org\">\n"
    "    <meta name=\"apple-mobile-web-app-capable\" content=\"yes\">\n"
    "    <meta name=\"apple-mobile-web-app-status-bar-style\" content=\"black\">\n"
    "\n"
    "    <meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\">\n"
    "    <meta name=\"HandheldFriendly\" content=\"True\">\n"
    "    <meta name=\"format-detection\" content=\"telephone=no\">\n"
    "</head>\n"
    "\n"
    "<body class=\"python home\" id=\"homepage\">\n"
    "    <div id=\"touchnav-wrapper\">Welcome to Python.org</div>\n"
    "</body>\n"
    "</html>\n";
const std::string pypy_org_html =
    "<!DOCTYPE html>\n"
    "<html>\n"
    "<head>\n"
    "\t<title>PyPy - Welcome to PyPy</title>\n"
    "\t<meta http-equiv=\"content-language\" content=\"en\" />\n"
    "\t<meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\" />\n"
    "\t<meta name=\"author\" content=\"PyPy Team\" />\n"
    "\t<meta name=\"description\" content=\"PyPy\" />\n"
    "\t<meta name=\"copyright\" content=\"MIT\" />\n"
    "\t<meta name=\"document-rating\" content=\"general\" />\n"
    "\t<link rel=\"stylesheet\" type=\"text/css\" media=\"screen\" title=\"default\" href=\"css/site.css\" />\n"
    "\t<link rel=\"alternate\" type=\"application/rss+xml\" title=\"RSS Feed for PyPy\" href=\"http://feeds.feedburner.com/PyPyStatusBlog\" />\n"
    "  <link rel=\"stylesheet\" type=\"text/css\" href=\"css/jquery-ui-1.8.14.custom.css\" />\n"
    "\t<script type=\"text/javascript\" src=\"https://use.typekit.com/hdt8sni.js\"></script>\n"
    "\t<script type=\"text/javascript\">try{Typekit.load();}catch(e){}</script>\n"
    "\t<script type=\"text/javascript\" src=\"https://ajax.googleapis.com/ajax/libs/jquery/1.4.2/jquery.min.js\"></script>\n"
    "  <script type=\"text/javascript\" src=\"js/jquery-ui-1.8.14.custom.min.js\"></script>\n"
    "</head>\n"
    "<body>\n"
    "\t<div id=\"body-outer\"><h1>Welcome to PyPy</h1></div>\n"
    "</body>\n"
    "</html>\n";

std::string fetch_url(const std::string& url) {
  std::string data = http_fixture::http_get(url);  // u = urllib.request.urlopen(url); data = u.read()
  return data;
}

// Python's repr() of a bytes object: b'...' with escapes.
std::string bytes_repr(const std::string& data) {
  std::string out = "b'";
  for (unsigned char c : data) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      case '\'': out += "\\'"; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          char hex[5];
          std::snprintf(hex, sizeof hex, "\\x%02x", c);
          out += hex;
        }
    }
  }
  return out + "'";
}

int main() {
  http_fixture::Server python_org({{"/", {python_org_html, 100ms}}});
  http_fixture::Server pypy_org({{"/", {pypy_org_html, 100ms}}});

  const auto start = std::chrono::steady_clock::now();

  cf::ThreadPoolExecutor pool(10);

  cf::Future<std::string> a = pool.submit(fetch_url, python_org.url("/"));  // 'http://www.python.org'
  cf::Future<std::string> b = pool.submit(fetch_url, pypy_org.url("/"));    // 'http://www.pypy.org'

  // result 方法会阻塞进程直到对应的函数执行完成并返回一个结果
  std::string x = a.result();
  std::string y = b.result();

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  print("fetched", python_org.url("/"), "and", pypy_org.url("/"), "in", seconds,
        "seconds (each takes 0.1 s to answer)");

  print("x[:1000]");
  print(bytes_repr(x.substr(0, 1000)));
  print("y[:1000]");
  print(bytes_repr(y.substr(0, 1000)));
}
