// Seed 002, §8 "什么是死锁，如何避免死锁（4 种方法）", 2nd way, 具有相同的加锁顺序: "如果多个线程需要
// 对多个 Lock 进行锁定，则应该保证它们以相同的顺序请求加锁". A deadlock of this kind needs bad
// timing, so a test run rarely shows it; lock-order checking (like Linux's lockdep) finds the
// inverted order itself, in a run that does not deadlock.
//   1. Two accounts, each with a Lock ("account-A", "account-B"). transfer() locks the payer's
//      account, then the payee's. Thread "transfer A->B" runs and is joined; only then thread
//      "transfer B->A" runs. They never overlap, so this run cannot hang — yet the second one
//      takes the locks in the other order, and the checker reports it, before it blocks, with
//      both orders: the two threads could deadlock on another run.
//   2. The same transfers with dl::acquire(from.lock, to.lock): one global order whatever order
//      the accounts are named in. Now the two threads run at the same time, many transfers each
//      way, and the checker has nothing to report.
// The reaction is a handler (dl::set_reaction with a function) that counts the reports and
// prints them on stdout; it runs in the thread whose acquire() inverts the order.
#include <concur/deadlock.hpp>
#include <concur/threading.hpp>

#include <atomic>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>

#include "print.hpp"

namespace dl = concur::deadlock;
namespace th = concur::threading;

struct Account {
  Account(const std::string& n, int initial) : name(n), lock(n), balance(initial) {}
  std::string name;
  th::Lock lock;
  int balance;  // guarded by lock
};

Account account_a("account-A", 1000);
Account account_b("account-B", 1000);

std::atomic<int> reports{0};

// 1. Lock the payer's account, then the payee's: the order depends on the direction.
void transfer(Account& from, Account& to, int amount) {
  std::lock_guard with_from(from.lock);
  std::lock_guard with_to(to.lock);
  from.balance -= amount;
  to.balance += amount;
  print(th::current_thread().name() + ": moved", amount, "from", from.name, "to", to.name);
}

// 2. Both locks in one global order.
void transfer_ordered(Account& from, Account& to, int amount, int times) {
  for (int i = 0; i < times; ++i) {
    auto held = dl::acquire(from.lock, to.lock);
    from.balance -= amount;
    to.balance += amount;
  }
}

void run_one_after_the_other() {
  th::Thread t1(th::ThreadOptions{"transfer A->B"}, transfer, std::ref(account_a),
                std::ref(account_b), 100);
  th::Thread t2(th::ThreadOptions{"transfer B->A"}, transfer, std::ref(account_b),
                std::ref(account_a), 30);
  t1.start();
  t1.join();  // the second transfer starts only after the first has finished: no deadlock here
  t2.start();
  t2.join();
}

int main() {
  dl::enable_lock_order_checking(true);
  dl::set_reaction([](const dl::Report& report) {
    const int n = ++reports;
    print("[report", std::to_string(n) + "]",
          report.kind == dl::ReportKind::lock_order ? "lock_order" : "deadlock");
    std::cout << report.message;
  });

  print("--- 1. transfer(): the payer's lock, then the payee's;",
        "the two threads run one after the other");
  run_one_after_the_other();
  print("balances:", account_a.name, account_a.balance, "/", account_b.name, account_b.balance);
  const int part1 = reports.load();
  print("reports so far:", part1);

  print("--- 2. dl::acquire(from.lock, to.lock): one order;",
        "1000 transfers each way, at the same time");
  dl::reset_lock_order_graph();  // forget the orders and reports of part 1
  {
    th::Thread t1(th::ThreadOptions{"transfer A->B"}, transfer_ordered, std::ref(account_a),
                  std::ref(account_b), 1, 1000);
    th::Thread t2(th::ThreadOptions{"transfer B->A"}, transfer_ordered, std::ref(account_b),
                  std::ref(account_a), 1, 1000);
    t1.start();
    t2.start();
    t1.join();
    t2.join();
  }
  print("balances:", account_a.name, account_a.balance, "/", account_b.name, account_b.balance);
  print("reports in part 2:", reports.load() - part1);

  dl::enable_lock_order_checking(false);
  print("lock-order checking made", reports.load(), "report in all: the inverted order of part 1");
}
