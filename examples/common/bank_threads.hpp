// The seeds' bank driver, shared by the Condition and the Event account ports
// (threading/deposit_condition.cpp, threading/event_account.cpp): one drawer (取钱者) and three
// depositors (存款者甲, 乙, 丙) on one account, each depositor making n deposits of 800 and the
// drawer 3n draws of 800; then the final balance.
#pragma once

#include <functional>
#include <string>

#include "concur/threading.hpp"
#include "print.hpp"

template <class Account>
void run_drawer_and_depositors(Account& account, void (*draw_many)(Account&, int, int),
                               void (*deposit_many)(Account&, int, int), int n) {
  namespace th = concur::threading;
  th::Thread drawer(th::ThreadOptions{.name = "取钱者"}, draw_many, std::ref(account), 800, 3 * n);
  th::Thread a(th::ThreadOptions{.name = "存款者甲"}, deposit_many, std::ref(account), 800, n);
  th::Thread b(th::ThreadOptions{.name = "存款者乙"}, deposit_many, std::ref(account), 800, n);
  th::Thread c(th::ThreadOptions{.name = "存款者丙"}, deposit_many, std::ref(account), 800, n);
  drawer.start();
  a.start();
  b.start();
  c.start();
  drawer.join();
  a.join();
  b.join();
  c.join();
  print("最终余额: " + std::to_string(account.getBalance()));
}
