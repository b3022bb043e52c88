// Port of seed 002, §10 "Python Queue 队列实现线程通信" (second program): three producer threads
// and one consumer thread share a Queue(maxsize=1). Only one item fits, so after one producer has
// put its element the other producers block in put() until the consumer has taken it.
// The seed's producers make 99999 elements each and its consumer loops forever, so the program
// never ends. Here each producer makes 3 elements, and when all producers are done the main
// thread shuts the queue down: the consumer's get() drains what is left and then raises
// queue.ShutDown, which ends it. The seed's time.sleep(0.2) that simulates the work of producing
// and consuming is 0.02 s here.
// Which producer gets to put next depends on timing, so the lines interleave differently from run
// to run (as in the seed's figure); the summary at the end does not.
#include <concur/queue.hpp>
#include <concur/threading.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "print.hpp"

namespace cq = concur::queue;
namespace th = concur::threading;
using namespace std::chrono_literals;

constexpr int per_producer = 3;  // the seed: range(99999)
std::atomic<std::size_t> max_qsize{0};

void product(cq::Queue<std::string>& bq) {
  const std::array<std::string, 3> str_tuple = {"Python", "Kotlin", "Swift"};
  for (int i = 0; i < per_producer; ++i) {
    print(th::current_thread().name() + "生产者准备生产元组元素!");
    th::sleep(20ms);
    // 尝试放入元素, 如果队列已满, 则线程被阻塞
    bq.put(str_tuple[i % 3]);
    std::size_t n = bq.qsize(), seen = max_qsize.load();
    while (n > seen && !max_qsize.compare_exchange_weak(seen, n)) {
    }
    print(th::current_thread().name() + "生产者生产元组元素完成!");
  }
}

std::map<std::string, int> consumed;  // written by the consumer only, read after its join()

void consume(cq::Queue<std::string>& bq) {
  while (true) {
    print(th::current_thread().name() + "消费者准备消费元组元素!");
    th::sleep(20ms);
    // 尝试取出元素, 如果队列已空, 则线程被阻塞
    std::string t;
    try {
      t = bq.get();
    } catch (const cq::ShutDown&) {
      print(th::current_thread().name() + "消费者: 队列已关闭 (queue.ShutDown), 停止消费");
      return;
    }
    ++consumed[t];
    print(th::current_thread().name() + "消费者消费[ " + t + " ]元素完成!");
  }
}

int main() {
  // 创建一个容量为 1 的 Queue
  cq::Queue<std::string> bq(1);
  // 启动 3 个生产者线程
  th::Thread p1(product, std::ref(bq));
  th::Thread p2(product, std::ref(bq));
  th::Thread p3(product, std::ref(bq));
  // 启动一个消费者线程
  th::Thread c(consume, std::ref(bq));
  p1.start();
  p2.start();
  p3.start();
  c.start();

  p1.join();
  p2.join();
  p3.join();
  bq.shutdown();  // no more puts: the consumer takes what is left, then stops
  c.join();

  print("---");
  print("消费的元素: Python x" + std::to_string(consumed["Python"]) + ", Kotlin x" +
        std::to_string(consumed["Kotlin"]) + ", Swift x" + std::to_string(consumed["Swift"]));
  print("队列中同时存在的元素最多:", max_qsize.load(),
        "(maxsize =", std::to_string(bq.maxsize()) + ")");
}
