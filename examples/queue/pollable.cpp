// Port of seed 001, "多个线程队列轮询": one consumer thread waits on three queues at once by
// polling their file descriptors, the way select() waits on sockets. The seed builds its
// PollableQueue from a socketpair; cq::PollableQueue<T> is that class: a Queue<T> whose fileno()
// reports POLLIN while the queue holds an item and stops once it is empty (level-triggered).
// The seed's queues carry ints and strings, so the items here are std::variant<int, std::string>
// (plus a Stop marker, see below).
//
// Differences from the seed:
// - The seed starts the consumer first and then puts 1, 10, 'hello', 15. Its output order then
//   depends on timing: a consumer that has already drained q1 and q2 when 'hello' and 15 arrive
//   visits q2 before q3 and prints 15 before hello. Here the four items are put first, so the
//   first poll() finds all three queues ready (Got: 1, 10, hello, one get() per ready queue,
//   as in the seed's loop) and the second finds q2 still ready (Got: 15): always the seed's output.
// - Then all queues are empty and the consumer blocks in poll() until the main thread puts
//   another item, which shows that it waits without spinning.
// - The seed's daemon consumer loops forever; here a Stop item ends it.
#include <concur/queue.hpp>
#include <concur/threading.hpp>

#include <poll.h>

#include <cerrno>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <system_error>
#include <type_traits>
#include <variant>
#include <vector>

#include "print.hpp"

namespace cq = concur::queue;
namespace th = concur::threading;

struct Stop {};
using Item = std::variant<int, std::string, Stop>;
using PQ = cq::PollableQueue<Item>;

std::ostream& operator<<(std::ostream& os, const Item& item) {
  std::visit(
      [&](const auto& v) {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, Stop>)
          os << "Stop";
        else
          os << v;
      },
      item);
  return os;
}

th::Event got_four;  // set by the consumer after its fourth item, so the main thread knows
                     // that the queues are empty again

void consumer(const std::vector<PQ*>& queues) {
  int got = 0;
  while (true) {
    // 使用 poll 来轮询队列的 fileno 方法 (the seed: select.select(queues, [], []))
    std::vector<pollfd> fds;
    for (PQ* q : queues) fds.push_back(pollfd{q->fileno(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      Item item = queues[i]->get();
      if (std::holds_alternative<Stop>(item)) return;
      print("Got:", item);
      if (++got == 4) got_four.set();
    }
  }
}

int main() {
  PQ q1, q2, q3;

  q1.put(1);
  q2.put(10);
  q3.put(std::string("hello"));
  q2.put(15);

  th::Thread t(consumer, std::vector<PQ*>{&q1, &q2, &q3});
  t.start();

  got_four.wait();
  print("(all three queues are empty: the consumer waits in poll() until the next put)");
  q2.put(std::string("bye"));
  q2.put(Stop{});  // on the same queue, behind "bye": FIFO, so "bye" is always printed first
  t.join();
}
