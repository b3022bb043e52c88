// Port of seed 002, §13 "Python threading Local()函数用法：返回线程局部变量": one global
// threading.local object; each thread binds its own `resource` in it, and process() — called
// without arguments — finds the value of the thread that calls it.
#include <concur/threading.hpp>

#include <iostream>
#include <sstream>
#include <string>

#include "print.hpp"

namespace th = concur::threading;

// Python's local object takes any attribute; in C++ the attributes are the members of a struct,
// and th::local gives every thread its own instance of it.
struct Attributes {
  std::string resource;
};
th::local<Attributes> local;  // 创建全局 ThreadLocal 对象

void process() {
  // 3. 获取当前线程关联的 resource
  const std::string& res = local->resource;
  print(res + " http://c.biancheng.net/python/");
}

void process_thread(const std::string& res) {
  // 1. 为当前线程绑定 ThreadLocal 的 resource
  local->resource = res;
  // 2. 线程的调用函数不需要传递 res 了，可以通过全局变量 local 访问
  process();
}

int main() {
  th::Thread t1(process_thread, std::string("t1 线程"));
  th::Thread t2(process_thread, std::string("t2 线程"));
  t1.start();
  t2.start();
  t1.join();
  t2.join();
  // The main thread never bound a resource: its own view of `local` is still empty.
  print("MainThread has a resource: " + std::string(local.has_value() ? "yes" : "no"));
}
