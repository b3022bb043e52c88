// Port of seed 002, §10 "Python Queue 队列实现线程通信" (its list of the three queue classes):
// Queue is FIFO, LifoQueue is LIFO, PriorityQueue hands out the smallest element first; all three
// share the same methods (qsize, empty, full, put, put_nowait, get, get_nowait). The seed only
// describes them; this program puts the same elements into each and shows the order they come out.
#include <concur/queue.hpp>

#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>

#include "print.hpp"

namespace cq = concur::queue;

// Puts "Kotlin", "Python", "Swift", "C++" and prints the order get() returns them in.
template <class Q>
void show(const std::string& title, Q& q) {
  for (const char* s : {"Kotlin", "Python", "Swift", "C++"}) q.put(s);
  std::string line = title + " qsize()=" + std::to_string(q.qsize()) +
                     " full()=" + (q.full() ? "True" : "False") + " ->";
  while (!q.empty()) line += " " + q.get();
  print(line);
}

int main() {
  print("put order: Kotlin Python Swift C++");
  cq::Queue<std::string> fifo;                         // queue.Queue(maxsize=0): unbounded
  cq::LifoQueue<std::string> lifo(4);                  // queue.LifoQueue(4): holds at most 4
  cq::PriorityQueue<std::string> prio;                 // queue.PriorityQueue(): smallest first
  cq::PriorityQueue<std::string, std::greater<>> rev;  // a Compare the other way: largest first
  show("Queue        ", fifo);
  show("LifoQueue(4) ", lifo);
  show("PriorityQueue", prio);
  show("PriorityQueue<std::greater<>>", rev);

  // The usual Python idiom: (priority, item) tuples, lower number first.
  cq::PriorityQueue<std::pair<int, std::string>> jobs;
  jobs.put({3, "write report"});
  jobs.put({1, "fix outage"});
  jobs.put({2, "review patch"});
  while (!jobs.empty()) {
    auto [priority, job] = jobs.get();
    print("priority", priority, job);
  }
}
