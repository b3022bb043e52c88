// Port of seed 002, §7 "Python 互斥锁 ( Lock )：解决多线程安全问题": two threads, 甲 and 乙, each
// draw 800 from an account holding 1000.
//   Unsafe: draw() checks the balance, then (after a forced pause, the seed's time.sleep(0.001))
//           writes it back, so both see 1000, both succeed and the balance ends at -600.
//   Safe:   Account.draw() holds an RLock from the check to the update: one succeeds, one fails.
// The unsafe balance is a std::atomic read and written with separate relaxed loads and stores: a
// check-then-act race in the program's logic, not a C++ data race (which would be undefined).
#include <concur/threading.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

#include "print.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

namespace unsafe {

struct Account {
  Account(std::string no, int initial) : account_no(std::move(no)), balance(initial) {}
  std::string account_no;
  std::atomic<int> balance;
};

// 定义一个函数来模拟取钱操作
void draw(Account& account, int draw_amount) {
  // 账户余额大于取钱数目
  if (account.balance.load(std::memory_order_relaxed) >= draw_amount) {
    print(th::current_thread().name() + "取钱成功!吐出钞票:" + std::to_string(draw_amount));
    // The seed's time.sleep(0.001): a thread switch right here lets the other thread pass the
    // check too. (30 ms rather than 1 ms, so that a busy machine still shows it.)
    th::sleep(30ms);
    // 修改余额: read, subtract, write back — not one atomic step
    const int balance = account.balance.load(std::memory_order_relaxed);
    account.balance.store(balance - draw_amount, std::memory_order_relaxed);
    print("\t余额为: " + std::to_string(account.balance.load(std::memory_order_relaxed)));
  } else {
    print(th::current_thread().name() + "取钱失败!余额不足!");
  }
}

}  // namespace unsafe

namespace safe {

class Account {
 public:
  Account(std::string no, int balance) : account_no_(std::move(no)), balance_(balance) {}

  int getBalance() {
    std::lock_guard with(lock_);
    return balance_;
  }

  // 提供一个线程安全的 draw() 方法来完成取钱操作
  void draw(int draw_amount) {
    std::lock_guard with(lock_);  // 加锁; the guard releases it on every way out (finally)
    if (balance_ >= draw_amount) {
      print(th::current_thread().name() + "取钱成功!吐出钞票:" + std::to_string(draw_amount));
      th::sleep(30ms);  // the same pause: now harmless, the other thread waits for the lock
      balance_ -= draw_amount;
      print("\t余额为: " + std::to_string(balance_));
    } else {
      print(th::current_thread().name() + "取钱失败!余额不足!");
    }
  }

 private:
  std::string account_no_;
  int balance_;     // guarded by lock_
  th::RLock lock_;
};

// 直接调用 account 对象的 draw() 方法来执行取钱操作
void draw(Account& account, int draw_amount) { account.draw(draw_amount); }

}  // namespace safe

int main() {
  print("--- 不加锁: check-then-act race");
  {
    unsafe::Account acct("1234567", 1000);
    // 模拟两个线程对同一个账户取钱
    th::Thread a(th::ThreadOptions{.name = "甲"}, unsafe::draw, std::ref(acct), 800);
    th::Thread b(th::ThreadOptions{.name = "乙"}, unsafe::draw, std::ref(acct), 800);
    a.start();
    b.start();
    a.join();
    b.join();
    print("最终余额: " + std::to_string(acct.balance.load()));
  }

  print("--- 加锁 (RLock): thread-safe Account.draw()");
  {
    safe::Account acct("1234567", 1000);
    th::Thread a(th::ThreadOptions{.name = "甲"}, safe::draw, std::ref(acct), 800);
    th::Thread b(th::ThreadOptions{.name = "乙"}, safe::draw, std::ref(acct), 800);
    a.start();
    b.start();
    a.join();
    b.join();
    print("最终余额: " + std::to_string(acct.getBalance()));
  }
}
