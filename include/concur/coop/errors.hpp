// concur/coop/errors.hpp — the exception of concur::coop that concur/errors.hpp has no name for.
//
// Misuse that Python reports with ValueError is concur::ValueError here too ("generator already
// executing": next(), send() or close() of a generator from inside its own body).
#pragma once

#include "concur/errors.hpp"

namespace concur::coop {

// Python's TypeError for the one case coop has: send() of a value to a generator that has not
// started yet (Python: "can't send non-None value to a just-started generator"), or next() of a
// Generator<T, In> whose In has no default value to stand for Python's None. It derives from
// concur::ValueError (concur has no TypeError of its own), so either catch sees it.
struct TypeError : ValueError {
  using ValueError::ValueError;
};

}  // namespace concur::coop
