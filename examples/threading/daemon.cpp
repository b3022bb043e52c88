// Port of seed 002, §5 "Python daemon 守护线程详解": a program waits for its non-daemon threads
// (first part: main's loop ends first, yet Thread-1 still prints its three lines), but not for
// daemon threads (second part: the daemon was to print 0..19; main prints its five lines and the
// program ends, taking the unfinished daemon with it).
#include <concur/threading.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "print.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

void action(const std::vector<std::string>& add) {
  for (const auto& arc : add) print(th::current_thread().name() + " " + arc);
}

std::atomic<int> daemon_lines{0};

void count_to(int length) {
  for (int arc = 0; arc < length; ++arc) {
    print(th::current_thread().name() + " " + std::to_string(arc));
    daemon_lines.fetch_add(1);
    th::sleep(5ms);  // slower than main, so the daemon is still busy when main ends
  }
}

int main() {
  print("--- 非守护线程: the program waits for it");
  {
    for (int i = 0; i < 5; ++i) print(th::current_thread().name());
    th::Thread thread(action, std::vector<std::string>{"http://c.biancheng.net/python/",
                                                       "http://c.biancheng.net/shell/",
                                                       "http://c.biancheng.net/java/"});
    thread.start();
    // No join(): leaving the scope destroys `thread`, which waits for a non-daemon thread,
    // as Python waits for it before the interpreter exits.
  }

  print("--- 守护线程: thread.daemon = True");
  th::Thread thread(count_to, 20);
  thread.set_daemon(true);  // must come before start(), else RuntimeError (as in Python)
  thread.start();
  for (int i = 0; i < 5; ++i) {
    print(th::current_thread().name());
    th::sleep(2ms);
  }
  print("主线程结束: the daemon had printed " + std::to_string(daemon_lines.load()) +
        " of its 20 lines; nobody waits for the rest");
  // Returning from main destroys `thread`: a daemon is left running and dies with the process.
}
