// Port of seed 002, §14 "Python Timer 定时器：控制函数在特定时间执行": a Timer runs a function once,
// after an interval; print_time() schedules the next Timer itself until it has run ten times.
// The seed's interval is 1 s; here 50 ms, so the time is printed with milliseconds.
#include <concur/threading.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

#include "print.hpp"

namespace th = concur::threading;
using namespace std::chrono_literals;

// time.ctime(), e.g. "Tue Jun  3 14:05:09.250 2025" (with milliseconds added).
std::string ctime_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  localtime_r(&secs, &tm);  // std::localtime shares a static buffer between threads
  char date[32], year[8];
  std::strftime(date, sizeof date, "%a %b %e %H:%M:%S", &tm);
  std::strftime(year, sizeof year, "%Y", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03d", static_cast<int>(ms.count()));
  return std::string(date) + millis + " " + year;
}

// The seed rebinds a global `t` to each new Timer and forgets the old one. A C++ Timer is a
// thread that must be joined, so we keep every Timer (a deque: its elements never move).
th::Lock timers_lock;
std::deque<th::Timer> timers;
th::Event tenth_run;  // lets main wait for the last run without guessing how long it takes

int count = 0;  // 定义总共输出几次的计数器: touched only by the timers, one after the other

void print_time();

void schedule_print_time() {
  std::lock_guard with(timers_lock);
  timers.emplace_back(50ms, print_time);
  timers.back().start();
}

void print_time() {
  print("当前时间: " + ctime_now());
  count += 1;
  // 如果 count 小于 10，开始下一次调度
  if (count < 10)
    schedule_print_time();
  else
    tenth_run.set();
}

int main() {
  schedule_print_time();  // 指定 50 ms 后执行 print_time 函数
  tenth_run.wait();
  std::lock_guard with(timers_lock);
  for (auto& t : timers) t.join();
  print("Timer ran", count, "times");
}
