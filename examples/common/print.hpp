// print(a, b, ...) for the examples: Python's print — arguments separated by spaces, then a
// newline — with the whole line built first and written in one piece, so that lines printed by
// different threads never mix mid-line (each `<<` on std::cout is a separate write).
//
// Each line is flushed at once (one write(2) of the whole line), for the multiprocessing
// examples: when stdout is a pipe (ctest, `make demo | less`) it is fully buffered, and a line
// left in the buffer would be printed twice after a fork (the child inherits a copy of the
// buffer), lost when a process is killed, and written out by each process in 4 KiB blocks that
// can cut lines in two. Python's multiprocessing flushes sys.stdout before it forks for the
// same reason.
#pragma once

#include <iomanip>
#include <iostream>
#include <sstream>

template <class... Args>
void print(const Args&... args) {
  std::ostringstream line;
  line << std::fixed << std::setprecision(3);  // floating-point values print like "0.372"
  const char* sep = "";
  ((line << sep << args, sep = " "), ...);
  line << '\n';
  std::cout << line.str() << std::flush;
}
