#include "concur/detail/text.hpp"

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace concur::detail {

std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

std::string describe_exception(const std::exception_ptr& error) {
  if (!error) return "no exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    std::string out = type_name(typeid(e));  // the dynamic type, as Python prints it
    if (*e.what() != '\0') out.append(": ").append(e.what());
    return out;
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    return type ? type_name(*type) : std::string("unknown exception");
  }
}

void write_stderr(std::string_view text) noexcept {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace concur::detail
