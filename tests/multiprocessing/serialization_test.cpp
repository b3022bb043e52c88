// mp::serialize / mp::deserialize (concur/multiprocessing/serialization.hpp): round trips of the
// serializable values of API.md §6.1, raw bytes for trivially copyable values, exceptions as
// values, and the decoder's refusals of bytes that do not decode.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include <concur/futures.hpp>
#include <concur/multiprocessing.hpp>
#include <concur/queue.hpp>
#include <concur/threading.hpp>

namespace {

namespace mp = concur::multiprocessing;
using Bytes = std::vector<std::byte>;

template <class T>
T round_trip(const T& value) {
  return mp::deserialize<T>(mp::serialize(value));
}

struct Point {  // a user type with a cereal serialize member
  int x = 0;
  double y = 0;
  std::string label;
  std::vector<Point> children;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y, label, children);
  }
  bool operator==(const Point&) const = default;
};

namespace user {
struct Free {  // a user type with a free serialize function
  std::map<std::string, int> counts;
  bool operator==(const Free&) const = default;
};
template <class Archive>
void serialize(Archive& ar, Free& f) {
  ar(CEREAL_NVP(f.counts));
}
}  // namespace user

struct Raw {  // trivially copyable, no serialize: crosses as its bytes
  int a;
  double b;
  char c[5];
  bool operator==(const Raw& o) const {
    return a == o.a && b == o.b && std::memcmp(c, o.c, sizeof c) == 0;
  }
};

struct Empty {
  bool operator==(const Empty&) const = default;
};

enum class Color : std::uint8_t { red = 1, green = 2 };

static_assert(mp::Serializable<int>);
static_assert(mp::Serializable<std::string>);
static_assert(mp::Serializable<Point>);
static_assert(mp::Serializable<Raw>);
static_assert(mp::Serializable<std::exception_ptr>);
static_assert(mp::Serializable<std::variant<int, std::string>>);
static_assert(!mp::Serializable<int*>);
static_assert(!mp::Serializable<std::thread>);

TEST(Serialization, Arithmetic) {
  EXPECT_EQ(round_trip(42), 42);
  EXPECT_EQ(round_trip(-7LL), -7LL);
  EXPECT_EQ(round_trip(std::numeric_limits<std::uint64_t>::max()),
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(round_trip(3.25), 3.25);
  EXPECT_EQ(round_trip(1.5f), 1.5f);
  EXPECT_EQ(round_trip('x'), 'x');
  EXPECT_EQ(round_trip(true), true);
  EXPECT_EQ(round_trip(false), false);
  EXPECT_EQ(round_trip(Color::green), Color::green);
  EXPECT_EQ(mp::serialize(42).size(), sizeof(int));  // raw bytes, no framing per value
}

TEST(Serialization, StringsAndContiguousRanges) {
  EXPECT_EQ(round_trip(std::string()), "");
  EXPECT_EQ(round_trip(std::string("hello, 世界")), "hello, 世界");
  const std::string big(1 << 20, 'z');
  EXPECT_EQ(round_trip(big), big);
  // A vector of arithmetic values is a count and one block of bytes.
  const std::vector<int> v{1, 2, 3, -4};
  EXPECT_EQ(mp::serialize(v).size(), 8 + 4 * sizeof(int));
  EXPECT_EQ(round_trip(v), v);
  EXPECT_EQ(round_trip(std::vector<double>{}), std::vector<double>{});
  EXPECT_EQ(round_trip(std::vector<bool>{true, false, true}), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(round_trip(std::array<int, 3>{7, 8, 9}), (std::array<int, 3>{7, 8, 9}));
  EXPECT_EQ(round_trip(std::vector<std::string>{"a", "", "ccc"}),
            (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(round_trip(std::wstring(L"wide")), L"wide");
}

TEST(Serialization, Containers) {
  const std::map<std::string, std::vector<double>> m{{"a", {1.0, 2.0}}, {"b", {}}};
  EXPECT_EQ(round_trip(m), m);
  const std::unordered_map<int, std::string> um{{1, "one"}, {2, "two"}};
  EXPECT_EQ(round_trip(um), um);
  const std::set<std::string> s{"x", "y"};
  EXPECT_EQ(round_trip(s), s);
  const std::unordered_set<int> us{3, 4, 5};
  EXPECT_EQ(round_trip(us), us);
  const std::deque<int> d{1, 2};
  EXPECT_EQ(round_trip(d), d);
  const std::list<std::string> l{"p", "q"};
  EXPECT_EQ(round_trip(l), l);
  const std::pair<int, std::string> p{1, "p"};
  EXPECT_EQ(round_trip(p), p);
  const std::tuple<int, double, std::string> t{1, 2.5, "t"};
  EXPECT_EQ(round_trip(t), t);
}

TEST(Serialization, OptionalVariantDuration) {
  EXPECT_EQ(round_trip(std::optional<int>()), std::nullopt);
  EXPECT_EQ(round_trip(std::optional<std::string>("s")), std::optional<std::string>("s"));
  using V = std::variant<std::monostate, int, std::string, std::vector<int>>;
  EXPECT_EQ(round_trip(V()), V());
  EXPECT_EQ(round_trip(V(5)), V(5));
  EXPECT_EQ(round_trip(V(std::string("v"))), V(std::string("v")));
  EXPECT_EQ(round_trip(V(std::vector<int>{1, 2})), V(std::vector<int>{1, 2}));
  EXPECT_EQ(round_trip(std::chrono::milliseconds(1500)), std::chrono::milliseconds(1500));
  EXPECT_EQ(round_trip(std::chrono::duration<double>(0.25)), std::chrono::duration<double>(0.25));
}

TEST(Serialization, UserTypes) {
  Point p{1, 2.5, "root", {{2, 3.5, "kid", {}}, {3, 4.5, "kid2", {{4, 0, "grandkid", {}}}}}};
  EXPECT_EQ(round_trip(p), p);
  user::Free f{{{"a", 1}, {"b", 2}}};
  EXPECT_EQ(round_trip(f), f);
  Raw r{7, 1.25, {'a', 'b', 'c', 'd', 'e'}};
  EXPECT_EQ(mp::serialize(r).size(), sizeof(Raw));
  EXPECT_EQ(round_trip(r), r);
  const std::vector<Raw> rv{r, Raw{8, 2.5, {}}};
  EXPECT_EQ(mp::serialize(rv).size(), 8 + 2 * sizeof(Raw));  // one block
  EXPECT_EQ(round_trip(rv), rv);
  EXPECT_EQ(round_trip(std::vector<Empty>(3)), std::vector<Empty>(3));
  EXPECT_EQ(round_trip(std::map<int, Point>{{1, p}}), (std::map<int, Point>{{1, p}}));
}

TEST(Serialization, IntoAnExistingBuffer) {
  mp::detail::ByteBuffer buffer;
  mp::serialize_into(buffer, std::string("first"));
  const std::size_t first = buffer.size();
  mp::serialize_into(buffer, 99);
  EXPECT_EQ(buffer.size(), first + sizeof(int));
  std::string s;
  mp::deserialize_into(buffer.view().first(first), s);
  EXPECT_EQ(s, "first");
  EXPECT_EQ(mp::deserialize<int>(buffer.view().subspan(first)), 99);
}

// --- refusals ---

template <class T>
void expect_refused(const Bytes& bytes) {
  EXPECT_THROW((void)mp::deserialize<T>(bytes), concur::ValueError);
}

Bytes le64(std::uint64_t v) {
  Bytes b(8);
  std::memcpy(b.data(), &v, 8);
  return b;
}

TEST(Serialization, RefusesTruncatedAndTrailingBytes) {
  Bytes b = mp::serialize(std::string("hello"));
  b.pop_back();
  expect_refused<std::string>(b);
  expect_refused<int>(Bytes(3));
  expect_refused<int>(Bytes(5));  // a byte left over
  expect_refused<double>(Bytes());
  try {
    (void)mp::deserialize<int>(Bytes(3));
    FAIL();
  } catch (const concur::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot decode a int from 3 bytes"), std::string::npos)
        << e.what();
  }
}

TEST(Serialization, RefusesCountsLargerThanTheInput) {
  // A count of 2^62 elements in 8 bytes: refused before anything is allocated.
  expect_refused<std::string>(le64(std::uint64_t{1} << 62));
  expect_refused<std::vector<int>>(le64(std::uint64_t{1} << 62));
  expect_refused<std::vector<std::string>>(le64(std::uint64_t{1} << 62));
  expect_refused<std::vector<Point>>(le64(std::uint64_t{1} << 62));
  expect_refused<std::map<int, int>>(le64(std::uint64_t{1} << 62));
  expect_refused<std::deque<int>>(le64(std::uint64_t{1} << 40));
  expect_refused<std::vector<Empty>>(le64(std::uint64_t{1} << 40));
  expect_refused<std::unordered_set<int>>(le64(std::uint64_t{1} << 40));
  // A vector<int> that claims 3 elements but carries 2.
  Bytes b = le64(3);
  b.resize(8 + 8);
  expect_refused<std::vector<int>>(b);
  // 4 strings claimed, each needs at least 8 bytes, 24 bytes left.
  b = le64(4);
  b.resize(8 + 24);
  expect_refused<std::vector<std::string>>(b);
}

TEST(Serialization, RefusesInvalidValues) {
  expect_refused<bool>(Bytes{std::byte{2}});
  expect_refused<std::optional<int>>(Bytes{std::byte{7}});
  using V = std::variant<int, std::string>;
  Bytes b = mp::serialize(V(1));
  b[0] = std::byte{9};  // index 9 of a 2-alternative variant
  expect_refused<V>(b);
  expect_refused<std::exception_ptr>(Bytes{std::byte{5}});
}

TEST(Serialization, RefusesDeepNesting) {
  // A Point whose children nest 10000 deep: 4 + 8 + 8 + 8 bytes per level, which would need far
  // more stack than decoding is allowed.
  Bytes deep;
  for (int i = 0; i < 10000; ++i) {
    Bytes level(4 + 8 + 8 + 8, std::byte{0});
    const std::uint64_t one = 1;
    std::memcpy(level.data() + 4 + 8 + 8, &one, 8);  // x, y, an empty label, one child
    deep.insert(deep.end(), level.begin(), level.end());
  }
  expect_refused<Point>(deep);
  // A legitimate nesting of 100 levels decodes.
  Point p;
  Point* at = &p;
  for (int i = 0; i < 100; ++i) {
    at->children.resize(1);
    at = &at->children[0];
  }
  EXPECT_EQ(round_trip(p), p);
}

TEST(Serialization, RefusesNestedCountsThatWouldAddUp) {
  // Each level of a Point claims as many children as bytes remain: one level alone fits in
  // what remains, but levels nested inside each other would set aside sizeof(Point) bytes per
  // claimed child, level after level (gigabytes for 64 KiB of input). The decoding's memory
  // allowance refuses it early.
  Bytes b;
  while (b.size() < (64 << 10)) {
    Bytes level(4 + 8 + 8 + 8, std::byte{0});
    const std::uint64_t claim = (64 << 10) - b.size() - 4 - 8 - 8 - 8;
    std::memcpy(level.data() + 4 + 8 + 8, &claim, 8);
    b.insert(b.end(), level.begin(), level.end());
  }
  try {
    (void)mp::deserialize<Point>(b);
    FAIL();
  } catch (const concur::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("more memory"), std::string::npos) << e.what();
  }
}

// --- exceptions ---

template <class E>
E rethrown_as(const std::exception_ptr& p) {
  try {
    std::rethrow_exception(p);
  } catch (const E& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong type: " << typeid(e).name() << ": " << e.what();
  } catch (...) {
    ADD_FAILURE() << "not a std::exception";
  }
  throw std::logic_error("unreachable");
}

template <class E>
std::exception_ptr crossed(const E& e) {
  return round_trip(std::make_exception_ptr(e));
}

struct UserError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RegisteredError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

TEST(Serialization, ConcurErrorsKeepTheirType) {
  EXPECT_STREQ(rethrown_as<concur::ValueError>(crossed(concur::ValueError("bad value"))).what(),
               "bad value");
  EXPECT_STREQ(rethrown_as<concur::RuntimeError>(crossed(concur::RuntimeError("rt"))).what(), "rt");
  EXPECT_STREQ(rethrown_as<concur::TimeoutError>(crossed(concur::TimeoutError())).what(),
               "timed out");
  EXPECT_NO_THROW(rethrown_as<concur::queue::Empty>(crossed(concur::queue::Empty())));
  EXPECT_NO_THROW(rethrown_as<concur::futures::CancelledError>(
      crossed(concur::futures::CancelledError())));
  EXPECT_NO_THROW(rethrown_as<concur::threading::BrokenBarrierError>(
      crossed(concur::threading::BrokenBarrierError())));
  const auto os = rethrown_as<concur::BrokenPipeError>(crossed(concur::BrokenPipeError(EPIPE, "send")));
  EXPECT_EQ(os.code(), std::error_code(EPIPE, std::generic_category()));
  EXPECT_STREQ(os.what(), concur::BrokenPipeError(EPIPE, "send").what());
  EXPECT_NO_THROW(rethrown_as<concur::EOFError>(crossed(concur::EOFError())));
  // A plain ValueError must not arrive as a subclass, nor a subclass as its base only.
  const auto p = crossed(concur::ConnectionResetError(ECONNRESET));
  EXPECT_THROW(std::rethrow_exception(p), concur::ConnectionResetError);
}

TEST(Serialization, StandardExceptionsKeepTheirType) {
  EXPECT_STREQ(rethrown_as<std::runtime_error>(crossed(std::runtime_error("boom"))).what(), "boom");
  EXPECT_STREQ(rethrown_as<std::out_of_range>(crossed(std::out_of_range("idx"))).what(), "idx");
  EXPECT_STREQ(rethrown_as<std::invalid_argument>(crossed(std::invalid_argument("arg"))).what(),
               "arg");
  EXPECT_NO_THROW(rethrown_as<std::bad_alloc>(crossed(std::bad_alloc())));
  EXPECT_NO_THROW(rethrown_as<std::bad_variant_access>(crossed(std::bad_variant_access())));
  const std::system_error se(std::error_code(ENOENT, std::generic_category()), "open x");
  const auto back = rethrown_as<std::system_error>(crossed(se));
  EXPECT_EQ(back.code(), se.code());
  EXPECT_STREQ(back.what(), se.what());
  const std::future_error fe(std::future_errc::broken_promise);
  EXPECT_EQ(rethrown_as<std::future_error>(crossed(fe)).code(), fe.code());
  // Exactly the dynamic type: a runtime_error does not come back as a logic_error and so on.
  EXPECT_THROW(std::rethrow_exception(crossed(std::logic_error("l"))), std::logic_error);
}

TEST(Serialization, OtherExceptionsBecomeRemoteError) {
  const auto e = rethrown_as<mp::RemoteError>(crossed(UserError("mine")));
  EXPECT_NE(e.type_name().find("UserError"), std::string::npos) << e.type_name();
  EXPECT_EQ(e.message(), "mine");
  EXPECT_EQ(std::string(e.what()), e.type_name() + ": mine");
  // A RemoteError crosses again unchanged.
  const auto again = rethrown_as<mp::RemoteError>(round_trip(std::make_exception_ptr(e)));
  EXPECT_EQ(again.type_name(), e.type_name());
  EXPECT_EQ(again.message(), "mine");
  // Not even a std::exception.
  const auto i = rethrown_as<mp::RemoteError>(round_trip(std::make_exception_ptr(42)));
  EXPECT_EQ(i.type_name(), "int");
  // No exception at all.
  EXPECT_EQ(round_trip(std::exception_ptr()), nullptr);
}

TEST(Serialization, RegisteredExceptionsKeepTheirType) {
  EXPECT_NO_THROW(rethrown_as<mp::RemoteError>(crossed(RegisteredError("before"))));
  mp::register_exception<RegisteredError>();
  EXPECT_STREQ(rethrown_as<RegisteredError>(crossed(RegisteredError("after"))).what(), "after");
  mp::register_exception<RegisteredError>();  // again: replaces its entry
  EXPECT_STREQ(rethrown_as<RegisteredError>(crossed(RegisteredError("again"))).what(), "again");
}

TEST(Serialization, ExceptionsInsideValues) {
  using Result = std::variant<int, std::exception_ptr>;
  const Result r = round_trip(Result(std::make_exception_ptr(concur::ValueError("inner"))));
  ASSERT_EQ(r.index(), 1u);
  EXPECT_THROW(std::rethrow_exception(std::get<1>(r)), concur::ValueError);
}

}  // namespace
