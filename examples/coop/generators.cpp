// Python's generator protocol with co::Generator (not a seed program: the seeds' generators are
// the tasks of coop_task_scheduler; this shows the rest of concur::coop on the same idea):
//   - numbers(3) in a range-for and through next() until it is exhausted (Python's next(g) and
//     StopIteration, here std::nullopt);
//   - a running average that receives its values through send() (PEP 342's coroutine:
//     `x = yield avg`); send() before the first next() is refused, as Python's TypeError;
//   - close(): the generator's frame is destroyed and its locals with it (Python's finally).
#include <concur/coop.hpp>

#include <optional>

#include "print.hpp"

namespace co = concur::coop;

co::Generator<int> numbers(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

struct Bye {  // a local of the generator below: destroyed when the frame is
  ~Bye() { print("averager: closed"); }
};

co::Generator<double, double> averager() {
  Bye bye;
  double total = 0;
  int count = 0;
  double average = 0;
  for (;;) {
    double x = co_yield average;  // the value given to send()
    total += x;
    count += 1;
    average = total / count;
  }
}

int main() {
  for (int x : numbers(3)) print("for:", x);

  co::Generator<int> g = numbers(2);
  print("next:", *g.next());
  print("next:", *g.next());
  std::optional<int> end = g.next();
  print("next: exhausted =", end.has_value() ? "False" : "True");

  co::Generator<double, double> avg = averager();
  try {
    avg.send(10.0);
  } catch (const co::TypeError& e) {
    print("send before next:", e.what());
  }
  avg.next();  // runs to the first yield
  print("send(10) ->", *avg.send(10.0));
  print("send(20) ->", *avg.send(20.0));
  print("send(60) ->", *avg.send(60.0));
  avg.close();
  print("send after close: exhausted =", avg.send(1.0).has_value() ? "False" : "True");
}
