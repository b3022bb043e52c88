#include "concur/detail/text.hpp"

#include <cstdio>

namespace concur::detail {

void write_stderr(std::string_view text) noexcept {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace concur::detail
