// Port of seed 000, §12.3 "线程间通信" (first program): a producer puts its data on a Queue and
// ends the stream with a sentinel; a consumer that gets the sentinel puts it back before it
// stops, so that the next consumer reading the same queue sees it too and stops as well.
// The seed leaves the data and its processing as `...` and runs one consumer; here the producer
// puts the squares 0, 1, 4, ..., 81 and three consumers share the queue, which is what the
// put-back is for. Python's `_sentinel = object()` compared with `is` becomes an empty
// std::optional: a value no real item can have.
// Which consumer gets which item depends on timing, so the consumers only record what they did
// and the main thread prints the outcome once they have all finished.
#include <concur/queue.hpp>
#include <concur/threading.hpp>

#include <algorithm>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "print.hpp"

namespace cq = concur::queue;
namespace th = concur::threading;

using Item = std::optional<int>;
// 队列终止标志
const Item _sentinel = std::nullopt;

void producer(cq::Queue<Item>& out_q) {
  for (int i = 0; i < 10; ++i) {
    // 数据处理
    int data = i * i;
    // 向队列中添加数据
    out_q.put(data);
  }
  out_q.put(_sentinel);
  print("producer: put 10 items, then the sentinel");
}

// What the consumers did, for the main thread to report.
th::Lock results_lock;
std::vector<int> processed;  // guarded by results_lock
int sentinels_seen = 0;      // guarded by results_lock

void consumer(cq::Queue<Item>& in_q) {
  while (true) {
    // 从队列获取数据
    Item data = in_q.get();

    // 判断队列是否结束
    if (data == _sentinel) {
      in_q.put(_sentinel);  // put it back for the next consumer
      std::lock_guard with(results_lock);
      ++sentinels_seen;
      break;
    }

    // 数据处理
    std::lock_guard with(results_lock);
    processed.push_back(*data);
  }
}

int main() {
  cq::Queue<Item> q;
  std::vector<th::Thread> consumers;
  for (int i = 0; i < 3; ++i) consumers.emplace_back(consumer, std::ref(q));
  th::Thread t2(producer, std::ref(q));
  for (auto& t : consumers) t.start();
  t2.start();

  t2.join();
  for (auto& t : consumers) t.join();

  std::sort(processed.begin(), processed.end());
  std::ostringstream items;
  for (int v : processed) items << ' ' << v;
  print("consumers processed:" + items.str());
  print("consumers that got the sentinel and put it back:", sentinels_seen, "of 3");
  // The last consumer put it back too, so the sentinel is still queued for any later reader.
  const std::size_t left = q.qsize();
  const bool is_sentinel = q.get_nowait() == _sentinel;
  print("left in the queue: qsize() =", left,
        "and it is the sentinel:", is_sentinel ? "yes" : "no");
}
