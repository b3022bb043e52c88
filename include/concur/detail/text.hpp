// concur/detail/text.hpp — the two text helpers every report of concur uses: how a name is
// quoted, and how a message reaches stderr.
//
// Thread-safety: both may be called from any thread. write_stderr() makes one write per
// message, so that reports of threads failing together do not interleave mid-line, and never
// throws.
#pragma once

#include <string>
#include <string_view>

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

// Writes `text` to stderr in one write and flushes it. (src/detail/text.cpp)
void write_stderr(std::string_view text) noexcept;

}  // namespace concur::detail
