// The out-of-line parts of concur/multiprocessing/serialization.hpp: the decoder's errors.
#include "concur/multiprocessing/serialization.hpp"

#include <string>

#include "concur/detail/text.hpp"

namespace concur::multiprocessing {

void InputArchive::fail(const std::string& why) const {
  if (decoding_ == nullptr) throw ValueError(why);
  throw ValueError("cannot decode a " + *decoding_ + " from " + std::to_string(size_) +
                   " bytes: " + why);
}

void InputArchive::fail_short(std::size_t wanted) const {
  fail("the bytes end early: " + std::to_string(wanted) + " more needed, " +
       std::to_string(remaining()) + " left");
}

void InputArchive::fail_count(std::uint64_t n, std::size_t min_bytes) const {
  fail("a count of " + std::to_string(n) + " elements (at least " + std::to_string(min_bytes) +
       " bytes each) does not fit in the " + std::to_string(remaining()) + " bytes left");
}

void InputArchive::fail_depth() const {
  fail("values nest deeper than " + std::to_string(kMaxDepth) + " levels");
}

void InputArchive::fail_budget(std::uint64_t n, std::size_t element_size) const {
  fail("a count of " + std::to_string(n) + " elements of " + std::to_string(element_size) +
       " bytes each would take more memory than this input may (" + std::to_string(budget_) +
       " bytes left)");
}

}  // namespace concur::multiprocessing
