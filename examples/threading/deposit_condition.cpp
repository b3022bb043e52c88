// Port of seed 002, §9 "Python condition 实现线程通信": depositors and one drawer take turns on an
// account through a Condition and a flag — every deposit of 800 is followed by the drawer taking
// it, so the balance after a deposit is always 800 and after a draw always 0.
// The seed's program never ends (3 depositors x 100 deposits but only 100 draws, and its if/else
// skips the operation of a call that had to wait). Here every call waits in a loop until it can
// act, and the drawer draws exactly as often as the depositors deposit: 3 x 3 = 9 times.
#include <concur/threading.hpp>

#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

#include "bank_threads.hpp"
#include "print.hpp"

namespace th = concur::threading;

class Account {
 public:
  Account(std::string no, int balance) : account_no_(std::move(no)), balance_(balance) {}

  int getBalance() {
    std::lock_guard with(cond_);
    return balance_;
  }

  void draw(int draw_amount) {
    std::lock_guard with(cond_);  // 加锁, 相当于调用 Condition 绑定的 Lock 的 acquire()
    // 如果 flag_ 为假, 表明账户中还没有人存钱进去, 取钱方法阻塞. (`while`, not the seed's `if`:
    // after waking, check again, and then do the draw this call was made for.)
    while (!flag_) cond_.wait();
    print(th::current_thread().name() + " 取钱:" + std::to_string(draw_amount));
    balance_ -= draw_amount;
    print("账户余额为: " + std::to_string(balance_));
    flag_ = false;      // 将标识账户是否已有存款的旗标设为 False
    cond_.notify_all(); // 唤醒其他线程
  }

  void deposit(int deposit_amount) {
    std::lock_guard with(cond_);
    // 如果 flag_ 为真, 表明账户中已有人存钱进去, 存钱方法阻塞. A depositor woken by another
    // depositor's notify_all() finds the flag still set and waits again (the seed's ①).
    while (flag_) cond_.wait();
    print(th::current_thread().name() + " 存款:" + std::to_string(deposit_amount));
    balance_ += deposit_amount;
    print("账户余额为: " + std::to_string(balance_));
    flag_ = true;       // 将表示账户是否已有存款的旗标设为 True
    cond_.notify_all();
  }

 private:
  std::string account_no_;
  int balance_;         // guarded by cond_'s lock
  bool flag_ = false;   // 定义代表是否已经存钱的旗标
  th::Condition cond_;
};

// 模拟重复 max 次执行取钱操作
void draw_many(Account& account, int draw_amount, int max) {
  for (int i = 0; i < max; ++i) account.draw(draw_amount);
}

// 模拟重复 max 次执行存款操作
void deposit_many(Account& account, int deposit_amount, int max) {
  for (int i = 0; i < max; ++i) account.deposit(deposit_amount);
}

int main() {
  constexpr int n = 3;  // deposits per depositor (the seed: 100)
  Account acct("1234567", 0);

  run_drawer_and_depositors(acct, draw_many, deposit_many, n);
}
