// concur/multiprocessing/serialization.hpp — values as bytes, for everything that crosses
// between processes (Connection, and the queues and start methods built on it): cereal's
// conventions over concur's own binary archives.
//
//   namespace mp = concur::multiprocessing;
//   std::vector<std::byte> b = mp::serialize(value);        // Python's pickle.dumps
//   T v = mp::deserialize<T>(b);                            // pickle.loads, for a known T
//   mp::serialize_into(buffer, value);  mp::deserialize_into(bytes, v);
//   std::vector<std::byte> e = mp::serialize(std::current_exception());
//   std::exception_ptr p = mp::deserialize<std::exception_ptr>(e);
//   mp::register_exception<MyError>();                      // MyError crosses as itself
//
// What crosses (API.md §6.1): arithmetic types, enums, std::string, vector, array, map,
// unordered_map, set, unordered_set, deque, list, pair, tuple, optional, variant,
// chrono::duration, and any type with a cereal serialize(Archive&) member or free function (or
// save/load pairs). A trivially copyable class without a serialize function crosses as its raw
// bytes; so does every contiguous range of such values or of arithmetic values (a vector<int>, a
// string: one length and one block, no per-element work). Raw bytes are the same program's
// layout on both sides: every start method runs the same binary. mp::Serializable<T> says
// whether T crosses; send()/recv() of a type that does not fail to compile with a message.
// Pointers never cross (cereal refuses them at compile time), except text: a string literal, a
// C string or a std::string_view is serialized as a std::string (and decoded as one).
//
// Exceptions are values too: a std::exception_ptr serializes as its type and what(). Decoding
// rebuilds concur's errors (with an OSError's code()) and the standard exception types as
// themselves, types registered with register_exception<E>() as E, and anything else as
// mp::RemoteError carrying the type's name and what() (API.md §6.1).
//
// Untrusted bytes. deserialize() never trusts a length field: a count larger than the bytes
// that remain (times the fewest bytes one element can take), a variant index out of range, a
// bool that is neither 0 nor 1, nesting deeper than kMaxDepth, trailing bytes, or running out of
// bytes all throw concur::ValueError before anything is allocated for them. Memory that
// containers set aside while decoding n bytes is charged against an allowance of kBudgetBase +
// kBudgetPerByte * n (4 MiB + 64 bytes per input byte), so that counts nested in counts cannot
// add up either; it is never sized by what the input claims. A legitimate value that needs more
// memory than that for its size (a million empty optionals of a 4 KiB type) is refused too, as
// is a container of more than 4096 elements that take no bytes at all (empty classes) beyond
// the bytes that remain. (A raw-bytes class must accept every bit pattern of its members; one
// holding a bool or an enum should define serialize() instead.)
// Bytes are the machine's own (little-endian on x86-64): both ends run on one machine.
//
// Thread-safety: the functions are reentrant; concurrent calls on different objects are safe.
// register_exception() may run concurrently with anything (its table is copy-on-write, and is
// safe to use in a child forked at any moment). Throws: ValueError for bytes that do not decode
// as T; whatever the value's own serialize functions throw; std::bad_alloc.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <cstddef>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "concur/detail/text.hpp"
#include "concur/errors.hpp"
#include "concur/multiprocessing/detail/byte_buffer.hpp"
#include "concur/multiprocessing/detail/fd_table.hpp"
#include "concur/multiprocessing/errors.hpp"

namespace concur::multiprocessing {

// How deeply values may nest in bytes being decoded (every value, container and member is one
// level): deeper input is refused rather than allowed to exhaust the stack.
inline constexpr std::size_t kMaxDepth = 512;

// Memory set aside for containers while decoding n bytes is at most kBudgetBase +
// kBudgetPerByte * n (the elements' own sizes, as the decoder allocates them before reading
// them; raw-byte ranges are not counted: they never exceed the input). Input that would take
// more is refused; legitimate values stay far below (a list<int> takes 32 bytes of budget per
// element and 4 of input).
inline constexpr std::size_t kBudgetBase = std::size_t{4} << 20;
inline constexpr std::size_t kBudgetPerByte = 64;

// ---------------------------------------------------------------------------------------------
// The archives
// ---------------------------------------------------------------------------------------------

// Writes into a detail::ByteBuffer (appending; what the buffer held stays in front). `fds`, when
// given, collects the descriptors of handles that cross with the value (detail/fd_table.hpp).
class OutputArchive : public cereal::OutputArchive<OutputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit OutputArchive(detail::ByteBuffer& out, detail::FdTable* fds = nullptr)
      : cereal::OutputArchive<OutputArchive, cereal::AllowEmptyClassElision>(this),
        out_(out),
        fds_(fds) {}

  void saveBinary(const void* data, std::size_t size) { out_.append(data, size); }

  // The descriptors crossing with this value; nullptr when none can (a Connection's send).
  detail::FdTable* fds() const noexcept { return fds_; }

 private:
  detail::ByteBuffer& out_;
  detail::FdTable* fds_;
};

// Reads from a span of bytes it does not own, checking every length against what remains.
class InputArchive : public cereal::InputArchive<InputArchive, cereal::AllowEmptyClassElision> {
 public:
  // `decoding` names the type being decoded, for the errors' text ("cannot decode a T from N
  // bytes: ..."); it must outlive the archive.
  // `fds`, when given, holds the descriptors that arrived with the bytes (detail/fd_table.hpp).
  explicit InputArchive(std::span<const std::byte> in, const std::string* decoding = nullptr,
                        detail::FdTable* fds = nullptr)
      : cereal::InputArchive<InputArchive, cereal::AllowEmptyClassElision>(this),
        fds_(fds),
        at_(in.data()),
        end_(in.data() + in.size()),
        size_(in.size()),
        decoding_(decoding),
        budget_(kBudgetBase + std::min(in.size(), (SIZE_MAX - kBudgetBase) / kBudgetPerByte) *
                                  kBudgetPerByte) {}

  void loadBinary(void* data, std::size_t size) {
    if (size > remaining()) fail_short(size);
    if (size != 0) std::memcpy(data, at_, size);
    at_ += size;
  }

  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - at_); }

  // The descriptors that arrived with these bytes; nullptr when none can have.
  detail::FdTable* fds() const noexcept { return fds_; }

  // A count of `n` elements of which each takes at least `min_bytes` of input: ValueError
  // unless the remaining input can hold them. Elements that take no bytes (empty classes) draw
  // on a small allowance instead, so that decoding them stays bounded too.
  std::size_t check_count(std::uint64_t n, std::size_t min_bytes) {
    if (min_bytes != 0) {
      if (n > remaining() / min_bytes) fail_count(n, min_bytes);
    } else if (n > remaining()) {
      const std::uint64_t extra = n - remaining();
      if (extra > empty_allowance_) fail_count(n, 1);
      empty_allowance_ -= static_cast<std::size_t>(extra);
    }
    return static_cast<std::size_t>(n);
  }

  // Charges the memory a container is about to set aside for `n` elements of `element_size`
  // bytes against the decoding's allowance (kBudgetBase plus kBudgetPerByte per input byte):
  // nested containers each counted within what remains cannot add up beyond it. ValueError
  // when it would.
  void charge(std::uint64_t n, std::size_t element_size) {
    if (element_size != 0 && n > budget_ / element_size) fail_budget(n, element_size);
    budget_ -= static_cast<std::size_t>(n) * element_size;
  }

  void enter() {
    if (++depth_ > kMaxDepth) fail_depth();
  }
  void leave() noexcept { --depth_; }

  // Throws ValueError: the bytes do not decode, because of `why`.
  [[noreturn]] void fail(const std::string& why) const;

 private:
  [[noreturn]] void fail_short(std::size_t wanted) const;
  [[noreturn]] void fail_count(std::uint64_t n, std::size_t min_bytes) const;
  [[noreturn]] void fail_depth() const;
  [[noreturn]] void fail_budget(std::uint64_t n, std::size_t element_size) const;

  detail::FdTable* fds_;
  const std::byte* at_;
  const std::byte* end_;
  std::size_t size_;
  const std::string* decoding_;
  std::size_t depth_ = 0;
  std::size_t empty_allowance_ = 4096;
  std::size_t budget_;
};

// ---------------------------------------------------------------------------------------------
// Which values cross as raw bytes
// ---------------------------------------------------------------------------------------------
namespace detail {

// A class that cereal itself can serialize (a serialize/save/load of its own or of cereal's
// type support). Asked of cereal's binary archives, which do not know concur's raw-bytes rule,
// so that the answer does not depend on itself.
template <class T>
inline constexpr bool kCerealKnows =
    cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value ||
    cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value;

// cereal's own wrappers (a name-value pair around a member, a size tag, a binary block) are
// never raw: they are handled by the rules below. Ruling them out first also keeps kCerealKnows
// from being asked about them, which would recurse when the wrapped type lives in this
// namespace (a Connection in a tuple).
template <class T>
inline constexpr bool kIsCerealWrapper = false;
template <class T>
inline constexpr bool kIsCerealWrapper<cereal::NameValuePair<T>> = true;
template <class T>
inline constexpr bool kIsCerealWrapper<cereal::SizeTag<T>> = true;
template <class T>
inline constexpr bool kIsCerealWrapper<cereal::BinaryData<T>> = true;

// A trivially copyable class with no serialization of its own: crosses as its bytes.
template <class T>
concept RawClass = std::is_class_v<T> && !kIsCerealWrapper<T> && std::is_trivially_copyable_v<T> &&
                   !std::is_empty_v<T> && !kCerealKnows<T>;

// An element of a contiguous range that crosses as one block of bytes.
template <class T>
concept RawElement = (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) || RawClass<T>;

// The fewest bytes of input one decoded T can take; bounds the count of a container before it
// is allocated. 1 for types whose encoding is not known here (cereal's own or a user's).
template <class T>
struct MinWire {
  static constexpr std::size_t value = std::is_empty_v<T> ? 0 : 1;
};
template <class T>
  requires RawElement<T> || std::is_enum_v<T>
struct MinWire<T> {
  static constexpr std::size_t value = sizeof(T);
};
template <class C, class Tr, class A>
struct MinWire<std::basic_string<C, Tr, A>> {
  static constexpr std::size_t value = sizeof(std::uint64_t);
};
template <class T, class A>
struct MinWire<std::vector<T, A>> {
  static constexpr std::size_t value = sizeof(std::uint64_t);
};
template <class K, class V, class C, class A>
struct MinWire<std::map<K, V, C, A>> {
  static constexpr std::size_t value = sizeof(std::uint64_t);
};
template <class A, class B>
struct MinWire<std::pair<A, B>> {
  static constexpr std::size_t value = MinWire<A>::value + MinWire<B>::value;
};
template <class... Ts>
struct MinWire<std::tuple<Ts...>> {
  static constexpr std::size_t value = (std::size_t{0} + ... + MinWire<Ts>::value);
};
template <class... Ts>
struct MinWire<std::variant<Ts...>> {
  static constexpr std::size_t value = sizeof(std::int32_t);
};
template <class T, std::size_t N>
struct MinWire<std::array<T, N>> {
  static constexpr std::size_t value = N * MinWire<T>::value;
};

}  // namespace detail

// Whether values of T can be sent and received (recv<T>() also needs a default-constructible T,
// which the decoder fills in).
template <class T>
concept Serializable = !std::is_pointer_v<T> && !std::is_member_pointer_v<T> &&
                       cereal::traits::is_output_serializable<T, OutputArchive>::value &&
                       cereal::traits::is_input_serializable<T, InputArchive>::value &&
                       std::default_initializable<T>;

// ---------------------------------------------------------------------------------------------
// The archives' rules (found by cereal through argument-dependent lookup)
// ---------------------------------------------------------------------------------------------

// Arithmetic values: their bytes. A bool is one byte, 0 or 1; anything else is refused.
template <class T>
  requires std::is_arithmetic_v<T>
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const T& t) {
  ar.saveBinary(std::addressof(t), sizeof(t));
}
template <class T>
  requires std::is_arithmetic_v<T> && (!std::is_same_v<T, bool>)
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, T& t) {
  ar.loadBinary(std::addressof(t), sizeof(t));
}
inline void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, bool& t) {
  unsigned char byte = 0;
  ar.loadBinary(&byte, 1);
  if (byte > 1) ar.fail("a bool byte is neither 0 nor 1");
  t = byte != 0;
}

// A trivially copyable class without serialization: its bytes.
template <class T>
  requires detail::RawClass<T>
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const T& t) {
  ar.saveBinary(std::addressof(t), sizeof(T));
}
template <class T>
  requires detail::RawClass<T>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, T& t) {
  ar.loadBinary(std::addressof(t), sizeof(T));
}

// Counts (cereal's size tags): 8 bytes. On input, a count must fit in what remains.
template <class T>
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const cereal::SizeTag<T>& tag) {
  const auto n = static_cast<std::uint64_t>(tag.size);
  ar.saveBinary(&n, sizeof n);
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, cereal::SizeTag<T>& tag) {
  std::uint64_t n = 0;
  ar.loadBinary(&n, sizeof n);
  ar.check_count(n, 1);
  ar.charge(n, 32);  // the element type is not known here: a list node, a deque slot...
  tag.size = static_cast<std::remove_reference_t<T>>(n);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const cereal::BinaryData<T>& bd) {
  ar.saveBinary(bd.data, static_cast<std::size_t>(bd.size));
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, cereal::BinaryData<T>& bd) {
  ar.loadBinary(bd.data, static_cast<std::size_t>(bd.size));
}

template <class Archive, class T>
CEREAL_ARCHIVE_RESTRICT(InputArchive, OutputArchive)
CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

// Contiguous ranges of raw elements: a count and one block. (More specialised than cereal's
// own vector and string functions, so these are the ones chosen for concur's archives.)
template <class T, class A>
  requires detail::RawElement<T>
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const std::vector<T, A>& v) {
  const auto n = static_cast<std::uint64_t>(v.size());
  ar.saveBinary(&n, sizeof n);
  ar.saveBinary(v.data(), v.size() * sizeof(T));
}
template <class T, class A>
  requires detail::RawElement<T>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::vector<T, A>& v) {
  std::uint64_t n = 0;
  ar.loadBinary(&n, sizeof n);
  v.resize(ar.check_count(n, sizeof(T)));
  ar.loadBinary(v.data(), v.size() * sizeof(T));
}
template <class C, class Tr, class A>
  requires detail::RawElement<C>
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const std::basic_string<C, Tr, A>& s) {
  const auto n = static_cast<std::uint64_t>(s.size());
  ar.saveBinary(&n, sizeof n);
  ar.saveBinary(s.data(), s.size() * sizeof(C));
}
template <class C, class Tr, class A>
  requires detail::RawElement<C>
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::basic_string<C, Tr, A>& s) {
  std::uint64_t n = 0;
  ar.loadBinary(&n, sizeof n);
  s.resize(ar.check_count(n, sizeof(C)));
  ar.loadBinary(s.data(), s.size() * sizeof(C));
}

// Text given as a string_view, a literal or a C string crosses as a std::string (and is
// received as one), as Python's str.
inline void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const std::string_view& s) {
  const auto n = static_cast<std::uint64_t>(s.size());
  ar.saveBinary(&n, sizeof n);
  ar.saveBinary(s.data(), s.size());
}

// Vectors of other values: a count, bounded by the fewest bytes an element can take, then the
// elements one by one.
template <class T, class A>
  requires(!detail::RawElement<T> && !std::is_same_v<T, bool>)
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const std::vector<T, A>& v) {
  const auto n = static_cast<std::uint64_t>(v.size());
  ar.saveBinary(&n, sizeof n);
  for (const auto& x : v) ar(x);
}
template <class T, class A>
  requires(!detail::RawElement<T> && !std::is_same_v<T, bool>)
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::vector<T, A>& v) {
  std::uint64_t n = 0;
  ar.loadBinary(&n, sizeof n);
  ar.check_count(n, detail::MinWire<T>::value);
  ar.charge(n, sizeof(T));
  v.resize(static_cast<std::size_t>(n));
  for (auto& x : v) ar(x);
}

// Nesting depth on input: every value read is one level.
template <class T>
void prologue(InputArchive& ar, const T&) {
  ar.enter();
}
template <class T>
void epilogue(InputArchive& ar, const T&) {
  ar.leave();
}

// Exceptions (src/multiprocessing/exceptions.cpp).
void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const std::exception_ptr& error);
void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::exception_ptr& error);

// ---------------------------------------------------------------------------------------------
// Registering exception types
// ---------------------------------------------------------------------------------------------
namespace detail {
// Rebuilds an exception from its what() and error code.
using ExceptionFactory = std::exception_ptr (*)(const std::string& what, std::error_code code);
void register_exception(const std::type_info& type, std::string name, ExceptionFactory make);
}  // namespace detail

// From now on an E thrown in one process arrives in another as an E (both must register it;
// before start() or fork() is enough), built from its what() (E(what), or E(what, code) for an
// OSError, or E() when that is all it has). Registering a type again replaces its entry.
template <class E>
  requires std::derived_from<E, std::exception>
void register_exception() {
  detail::ExceptionFactory make = [](const std::string& what,
                                     std::error_code code) -> std::exception_ptr {
    if constexpr (std::is_constructible_v<E, std::string, std::error_code>) {
      return std::make_exception_ptr(E(what, code));
    } else if constexpr (std::is_constructible_v<E, std::string>) {
      (void)code;
      return std::make_exception_ptr(E(what));
    } else {
      static_assert(std::is_default_constructible_v<E>,
                    "register_exception<E>: E needs a constructor from std::string (its what()) "
                    "or a default constructor");
      (void)what;
      (void)code;
      return std::make_exception_ptr(E());
    }
  };
  detail::register_exception(typeid(E), ::concur::detail::type_name(typeid(E)), make);
}

// ---------------------------------------------------------------------------------------------
// serialize / deserialize
// ---------------------------------------------------------------------------------------------

namespace detail {
// A character array or C string is text: it crosses as a std::string would.
template <class T>
inline constexpr bool kIsCText =
    (std::is_array_v<T> && std::is_same_v<std::remove_cv_t<std::remove_extent_t<T>>, char>) ||
    (std::is_pointer_v<T> && std::is_same_v<std::remove_cv_t<std::remove_pointer_t<T>>, char>);
}  // namespace detail

// Appends the bytes of `value` to `out`; the descriptors of handles in it go to `fds` (without
// a table, such handles throw ValueError).
template <class T>
void serialize_into(detail::ByteBuffer& out, const T& value, detail::FdTable* fds = nullptr) {
  OutputArchive ar(out, fds);
  if constexpr (detail::kIsCText<T>) {
    if constexpr (std::is_pointer_v<T>) {
      if (value == nullptr) throw ValueError("cannot serialize a null C string");
    }
    ar(std::string_view(value));
  } else {
    static_assert(cereal::traits::is_output_serializable<T, OutputArchive>::value,
                  "mp::serialize: this type cannot cross between processes; give it a cereal "
                  "serialize(Archive&) member or free function (concur/multiprocessing/"
                  "serialization.hpp lists what crosses)");
    ar(value);
  }
}

template <class T>
std::vector<std::byte> serialize(const T& value) {
  detail::ByteBuffer buffer;
  serialize_into(buffer, value);
  return std::vector<std::byte>(buffer.data(), buffer.data() + buffer.size());
}

namespace detail {
// The name of T in decoding errors, demangled once.
template <class T>
const std::string& decoded_type_name() {
  static const std::string name = ::concur::detail::type_name(typeid(T));
  return name;
}
}  // namespace detail

// Decodes `bytes` into `value`; every byte must be used. ValueError when they do not decode as T
// (value is then left valid but unspecified). Handles in the value take their descriptors from
// `fds`.
template <class T>
void deserialize_into(std::span<const std::byte> bytes, T& value, detail::FdTable* fds = nullptr) {
  static_assert(cereal::traits::is_input_serializable<T, InputArchive>::value,
                "mp::deserialize: this type cannot cross between processes; give it a cereal "
                "serialize(Archive&) member or free function (concur/multiprocessing/"
                "serialization.hpp lists what crosses)");
  InputArchive ar(bytes, &detail::decoded_type_name<T>(), fds);
  try {
    ar(value);
  } catch (const cereal::Exception& e) {
    ar.fail(e.what());
  }
  if (ar.remaining() != 0) ar.fail("bytes left over after the value");
}

template <class T>
T deserialize(std::span<const std::byte> bytes) {
  static_assert(std::is_default_constructible_v<T>,
                "mp::deserialize<T>: T must be default-constructible (the decoder fills one in)");
  T value{};
  deserialize_into(bytes, value);
  return value;
}

}  // namespace concur::multiprocessing

CEREAL_REGISTER_ARCHIVE(concur::multiprocessing::OutputArchive)
CEREAL_REGISTER_ARCHIVE(concur::multiprocessing::InputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(concur::multiprocessing::InputArchive,
                            concur::multiprocessing::OutputArchive)
