// Port of seed 001, "线程间通信": the producer puts each letter together with its own Event and
// waits on that Event until the consumer has handled the letter, so producer and consumer take
// strict turns and the output is always "D C B A " (letters are popped from the end of the list).
// The consumer stops when get(timeout) raises queue.Empty; the seed waits 3 s for that, here
// 0.3 s (that timeout is the seed's way of ending the consumer, not a synchronization).
#include <concur/queue.hpp>
#include <concur/threading.hpp>

#include <cctype>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "print.hpp"

namespace cq = concur::queue;
namespace th = concur::threading;
using namespace std::chrono_literals;

// A letter and the Event its producer waits on. The Event is shared (Python passes a reference
// to the same object): the producer keeps it while the queue carries it to the consumer.
using Message = std::pair<char, std::shared_ptr<th::Event>>;

void producer(const std::vector<char>& letter_list, cq::Queue<Message>& out_q) {
  std::vector<char> letters = letter_list;  // letter_list[:]
  while (true) {
    if (letters.empty()) break;
    char letter = letters.back();  // letters.pop()
    letters.pop_back();
    auto evt = std::make_shared<th::Event>();
    out_q.put(Message{letter, evt});
    // 等待消费者处理完
    evt->wait();
    // 随后可以有一些其他操作再循环下次
    std::cout << ' ' << std::flush;  // print(' ', end='')
  }
}

void consumer(cq::Queue<Message>& in_q) {
  while (true) {
    Message m;
    try {
      m = in_q.get(300ms);  // the seed: in_q.get(timeout=3)
    } catch (const cq::Empty&) {
      break;
    }
    auto& [letter, evt] = m;
    std::cout << static_cast<char>(std::toupper(letter))
              << std::flush;  // print(letter.upper(), end='')
    // 通知已经完成消费
    evt->set();
  }
}

int main() {
  cq::Queue<Message> q;
  const std::vector<char> letters = {'a', 'b', 'c', 'd'};
  th::Thread t1(consumer, std::ref(q));
  th::Thread t2(producer, std::cref(letters), std::ref(q));
  t1.start();
  t2.start();
  t1.join();
  t2.join();
  std::cout << '\n';
  print("consumer: get(timeout=0.3) raised queue.Empty, so it stopped");
}
