// concur/detail/text.hpp — the text helpers every report of concur uses: how a name is quoted,
// how an exception is described, and how a message reaches stderr.
//
// Thread-safety: all may be called from any thread. write_stderr() makes one write per
// message, so that reports of threads failing together do not interleave mid-line, and never
// throws.
#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

namespace concur::detail {

// "name", as reports show a thread's or a lock's name.
inline std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

// The demangled name of a type: "std::runtime_error", "concur::ValueError".
std::string type_name(const std::type_info& type);

// Python's last traceback line for an exception: "<dynamic type>: <what()>", or just the type
// when what() is empty or the exception is not a std::exception. (src/detail/text.cpp)
std::string describe_exception(const std::exception_ptr& error);

// Writes `text` to stderr in one write and flushes it. (src/detail/text.cpp)
void write_stderr(std::string_view text) noexcept;

}  // namespace concur::detail
