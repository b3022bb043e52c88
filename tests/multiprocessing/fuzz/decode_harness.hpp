// The decoder's fuzz harness, shared by the time-bounded ctest (fuzz_test.cpp) and the libFuzzer
// target (decode_fuzzer.cpp): bytes from outside fed to mp::deserialize<T> for many T, and as a
// stream to a Connection. Each attempt must end in a value or in a clear concur error:
//   deserialize<T>:   a T, or concur::ValueError;
//   Connection recv:  a T, concur::ValueError (the frame did not decode: the next is read),
//                     concur::OSError (a broken frame) or concur::EOFError (the end).
// Anything else (another exception, a crash, a sanitizer report, a hang) is a finding.
// A decoded value is serialized again, so that a value the decoder should have refused (a bool
// that is 2, an out-of-range variant) is touched and seen by the sanitizers.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <concur/multiprocessing.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace concur_fuzz {

namespace mp = concur::multiprocessing;

struct Tree {  // recursive: nesting depth comes from the input
  std::int32_t value = 0;
  std::vector<Tree> kids;
  std::optional<std::string> name;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(value, kids, name);
  }
};

struct Raw {  // raw bytes
  std::int32_t a;
  double b;
  char c[3];
};

enum class Color : std::uint16_t { red, green };

using Types = std::tuple<
    std::int32_t, bool, double, Color, std::string, std::vector<std::int32_t>,
    std::vector<std::string>, std::vector<bool>, std::map<std::string, std::vector<double>>,
    std::variant<std::monostate, std::int32_t, std::string, std::vector<std::uint8_t>>,
    std::optional<std::pair<std::int32_t, std::string>>,
    std::tuple<std::uint8_t, std::set<std::int32_t>, std::unordered_map<std::int32_t, std::string>>,
    Tree, std::vector<Raw>, std::deque<std::int16_t>, std::list<std::string>,
    std::array<std::string, 2>, std::chrono::milliseconds, std::exception_ptr>;
inline constexpr std::size_t kTypeCount = std::tuple_size_v<Types>;

// What a failed attempt reports.
struct Finding {
  std::string type;
  std::string what;
};

template <class T>
void touch(const T& value) {
  (void)mp::serialize(value);
}
inline void touch(const std::exception_ptr& value) {
  (void)mp::serialize(value);
  if (value) {
    try {
      std::rethrow_exception(value);
    } catch (const std::exception& e) {
      (void)e.what();
    } catch (...) {
    }
  }
}

// deserialize<T>: true when it ended in a value or a ValueError; fills `finding` otherwise.
template <class T>
bool decode_one(std::span<const std::byte> bytes, Finding& finding) {
  try {
    touch(mp::deserialize<T>(bytes));
    return true;
  } catch (const concur::ValueError&) {
    return true;
  } catch (const std::exception& e) {
    finding = {typeid(T).name(), e.what()};
  } catch (...) {
    finding = {typeid(T).name(), "a non-std exception"};
  }
  return false;
}

template <std::size_t... I>
bool decode_as(std::size_t index, std::span<const std::byte> bytes, Finding& finding,
               std::index_sequence<I...>) {
  bool ok = true;
  ((I == index ? (ok = decode_one<std::tuple_element_t<I, Types>>(bytes, finding)) : false), ...);
  return ok;
}

// Decodes `bytes` as the index-th type of Types.
inline bool decode_as(std::size_t index, std::span<const std::byte> bytes, Finding& finding) {
  return decode_as(index % kTypeCount, bytes, finding, std::make_index_sequence<kTypeCount>{});
}

// One recv<T> from a connection: 0 value or ValueError (go on), 1 OSError or EOFError (the
// stream is over), -1 a finding.
template <class T>
int recv_one(mp::Connection& c, Finding& finding) {
  try {
    touch(c.recv<T>());
    return 0;
  } catch (const concur::ValueError&) {
    return 0;
  } catch (const concur::EOFError&) {
    return 1;
  } catch (const concur::OSError&) {
    return 1;
  } catch (const std::exception& e) {
    finding = {typeid(T).name(), e.what()};
  } catch (...) {
    finding = {typeid(T).name(), "a non-std exception"};
  }
  return -1;
}

template <std::size_t... I>
int recv_as(std::size_t index, mp::Connection& c, Finding& finding, std::index_sequence<I...>) {
  int r = 0;
  ((I == index ? (r = recv_one<std::tuple_element_t<I, Types>>(c, finding)) : 0), ...);
  return r;
}

// Writes `stream` (frames or garbage) into one end of a socketpair and closes it, then reads
// the other end as a Connection (max_message_size `limit`) until the stream is over, asking for
// the types in turn from `first_type`. The stream must fit in the socket's buffer (it is written
// before it is read): keep it under 64 KiB. Returns the number of recv calls, or -1 with
// `finding` filled.
inline long through_connection(std::span<const std::byte> stream, std::size_t first_type,
                               std::size_t limit, Finding& finding) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    finding = {"socketpair", "failed"};
    return -1;
  }
  std::size_t off = 0;
  while (off < stream.size()) {
    const ssize_t n = ::write(fds[0], stream.data() + off, stream.size() - off);
    if (n <= 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      finding = {"write", "the stream did not fit in the socket buffer"};
      return -1;
    }
    off += static_cast<std::size_t>(n);
  }
  ::close(fds[0]);
  mp::Connection c(fds[1]);
  c.set_max_message_size(limit);
  long calls = 0;
  for (std::size_t t = first_type;; ++t) {
    if (c.closed() || !c.readable()) break;  // a bad length ended it
    ++calls;
    const int r = recv_as(t % kTypeCount, c, finding, std::make_index_sequence<kTypeCount>{});
    if (r < 0) return -1;
    if (r > 0) break;
  }
  return calls;
}

}  // namespace concur_fuzz
