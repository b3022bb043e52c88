// concur/deadlock.hpp — deadlock avoidance (API.md §5): namespace concur::deadlock.
//
//   namespace dl = concur::deadlock;
//   auto held = dl::acquire(a, b, c);   // one global order, released in reverse at scope exit
//
// Lock-order checking, detection of real deadlocks and thread dumps come with the rest of the
// deadlock issue.
#pragma once

#include "concur/deadlock/ordered_acquire.hpp"
