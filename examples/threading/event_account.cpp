// Port of seed 002, §11 "Python Event 实现线程通信":
//   1. the simple Event demo: cal('甲') and cal('乙') block in event.wait() until the main thread
//      sets the event;
//   2. the seed's Account rewritten with a Lock plus an Event as the "money is in" flag, driven
//      like §9 (three depositors, one drawer).
// The seed's Account is unfinished and would hang: its draw() clears the flag and then waits for
// the next deposit even after the last one. Here the drawer waits for a deposit *before* taking
// it, and the program makes as many draws as deposits, so it ends. An Event can only be waited
// on to become set, not cleared, so a depositor that finds money still in the account (the seed:
// release the lock, wait() — which returns at once) simply tries again a moment later.
#include <concur/threading.hpp>

#include <chrono>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

#include "bank_threads.hpp"
#include "print.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

// ----- 1. Event 最简单的用法 -----
th::Event event;

void cal(const std::string& name) {
  // 等待事件，进入等待阻塞状态
  print(th::current_thread().name() + " 启动");
  print(name + " 准备开始计算状态");
  event.wait();  // ①
  // 收到事件后进入运行状态
  print(th::current_thread().name() + " 收到通知了.");
  print(name + " 正式开始计算!");
}

// ----- 2. Account with a Lock and an Event -----
class Account {
 public:
  Account(std::string no, int balance) : account_no_(std::move(no)), balance_(balance) {}

  int getBalance() {
    std::lock_guard with(lock_);
    return balance_;
  }

  // Waits until money is in (the Event is set), then takes it. Returns true once it drew.
  bool draw(int draw_amount) {
    event_.wait();  // 阻塞当前线程, until a depositor sets the event
    std::lock_guard with(lock_);
    // 如果 Event 内部旗标为 True，表明账户中已有人存钱进去
    if (!event_.is_set()) return false;
    print(th::current_thread().name() + " 取钱:" + std::to_string(draw_amount));
    balance_ -= draw_amount;
    print("账户余额为: " + std::to_string(balance_));
    event_.clear();  // 将 Event 内部旗标设为 False
    return true;
  }

  // Deposits if the account is empty (the Event is clear). Returns false if money is still in.
  bool deposit(int deposit_amount) {
    std::lock_guard with(lock_);
    // 如果 Event 内部旗标为 False, 表明账户中还没有人存钱进去
    if (event_.is_set()) return false;
    print(th::current_thread().name() + " 存款:" + std::to_string(deposit_amount));
    balance_ += deposit_amount;
    print("账户余额为: " + std::to_string(balance_));
    event_.set();  // 将 Event 内部旗标设为 True: wakes the drawer
    return true;
  }

 private:
  std::string account_no_;
  int balance_;    // guarded by lock_
  th::Lock lock_;
  th::Event event_;
};

// Counts only the calls that did draw or deposit, so that each thread does its share and stops.
void draw_many(Account& account, int draw_amount, int max) {
  for (int done = 0; done < max;)
    if (account.draw(draw_amount)) ++done;
}

void deposit_many(Account& account, int deposit_amount, int max) {
  for (int done = 0; done < max;) {
    if (account.deposit(deposit_amount))
      ++done;
    else
      th::sleep(1ms);  // money still in: try again soon
  }
}

int main() {
  print("--- 1. Event: cal('甲'), cal('乙')");
  {
    // 创建并启动两条线程，它们都会在 ① 号代码处等待
    th::Thread t1(cal, std::string("甲"));
    th::Thread t2(cal, std::string("乙"));
    t1.start();
    t2.start();
    // ② the seed sleeps 2 s so that both threads reach ① first; nothing else depends on it
    th::sleep(50ms);
    print("-----");
    print("主线程发出事件");
    event.set();  // 发出事件
    t1.join();
    t2.join();
  }

  print("--- 2. Account with Lock + Event: 存款者甲/乙/丙, 取钱者");
  {
    constexpr int n = 3;  // deposits per depositor
    Account acct("1234567", 0);
    run_drawer_and_depositors(acct, draw_many, deposit_many, n);
  }
}
