// print(a, b, ...) for the examples: Python's print — arguments separated by spaces, then a
// newline — with the whole line built first and written in one piece, so that lines printed by
// different threads never mix mid-line (each `<<` on std::cout is a separate write).
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
  std::cout << line.str();
}
