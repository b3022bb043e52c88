// concur/detail/block_flag.hpp — keeps numbers out of `block` flags.
//
// Python's `lock.acquire(timeout=0.05)` or `q.get(timeout=0.5)`, translated as acquire(0.05) or
// get(0.5), would compile in C++ — the number converts to `true` — and wait forever. Every
// block/blocking parameter of concur therefore has companion overloads for numbers, whose only
// job is to fail to compile with a message that says what to write instead.
#pragma once

#include <concepts>
#include <type_traits>

namespace concur::detail {

// An arithmetic type other than bool: what a timeout written as a Python number looks like.
template <class N>
concept NumberNotBool =
    std::is_arithmetic_v<std::remove_cvref_t<N>> && !std::same_as<std::remove_cvref_t<N>, bool>;

// A static_assert condition that is false only once its template is instantiated.
template <class...>
inline constexpr bool kRejected = false;

}  // namespace concur::detail
