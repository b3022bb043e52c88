// concur/multiprocessing/detail/process_target.hpp — a Process's target and arguments, and how
// they reach a child under each start method.
//
// fork: the child is a copy of the parent; it calls TargetBase::run() on its copy.
// spawn, forkserver: the child is the same program started anew, so the target must be code it
// can find without registration and every argument must be bytes:
//  - the code: a trampoline instantiated per (F, Args...), kSpawnEntry<F, Args...>, a constant
//    whose address is sent as (loaded object, offset from that object's load address) and
//    resolved in the child with dl_iterate_phdr (the same binary and libraries ⇒ the same
//    offsets, whatever ASLR did). The child checks the entry's magic number and the mangled name
//    of (F, Args...) before it calls anything. A function-pointer target is sent the same way;
//    a capture-less lambda (an empty, default-constructible class) is built anew in the child.
//  - the arguments: the decayed tuple, serialize_into(buffer, tuple, &fds), so that handles
//    holding descriptors (Connection, the shared objects) cross with them (fd_table.hpp).
// Whether a target or an argument can cross is decided with `if constexpr`, so that fork still
// accepts any callable and any copyable argument; prepare_spawn() throws ValueError naming the
// first thing that cannot cross, before any process starts.
//
// Thread-safety: a Target belongs to one Process (one thread at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "concur/detail/text.hpp"
#include "concur/errors.hpp"
#include "concur/multiprocessing/detail/byte_buffer.hpp"
#include "concur/multiprocessing/detail/fd_table.hpp"
#include "concur/multiprocessing/serialization.hpp"

namespace concur::multiprocessing::detail {

enum class StartMethod : std::uint8_t { fork = 0, spawn = 1, forkserver = 2 };

// "fork", "spawn", "forkserver".
std::string_view start_method_name(StartMethod method) noexcept;

// --- the trampolines --------------------------------------------------------------------------

inline constexpr std::uint64_t kSpawnEntryMagic = 0x3c6d702d656e7472ull;  // "<mp-entr"

struct SpawnEntry {
  std::uint64_t magic;
  // The mangled name of (F, Args...), compared with the one the parent sent.
  const char* (*type_name)() noexcept;
  // Decodes the arguments (taking their descriptors from `fds`) and calls the target; for a
  // function-pointer target, `function` is it.
  void (*run)(std::span<const std::byte> args, FdTable& fds, void (*function)());
};

template <class F, class... Args>
struct SpawnSignature {};

template <class F, class... Args>
const char* spawn_type_name() noexcept {
  return typeid(SpawnSignature<F, Args...>).name();
}

template <class F, class... Args>
void spawn_run(std::span<const std::byte> bytes, FdTable& fds, void (*function)()) {
  std::tuple<Args...> args;
  deserialize_into(bytes, args, &fds);
  if constexpr (std::is_pointer_v<F>) {
    F fn = reinterpret_cast<F>(function);
    std::apply([&](auto&... a) { std::invoke(fn, std::move(a)...); }, args);
  } else {
    F fn{};
    std::apply([&](auto&... a) { std::invoke(std::move(fn), std::move(a)...); }, args);
  }
}

template <class F, class... Args>
inline constexpr SpawnEntry kSpawnEntry{kSpawnEntryMagic, &spawn_type_name<F, Args...>,
                                        &spawn_run<F, Args...>};

// Where code or a constant of this program is, as another run of the same program can find it
// again whatever ASLR did: the loaded object (dl_iterate_phdr's name, "" for the main program)
// and the offset from that object's load address. (src/multiprocessing/bootstrap.cpp)
struct CodeLocation {
  std::string object;
  std::uint64_t offset = 0;
};
// nullopt when `address` is in no loaded object.
std::optional<CodeLocation> locate_code(const void* address);
// The address of `location` in this process, when `size` bytes there lie within one loaded
// segment of that object with the permissions `flags` (PF_R, PF_X of <elf.h>); else nullptr.
void* resolve_code(const CodeLocation& location, std::size_t size, unsigned flags);

// What the parent sends so that the child finds the code: the entry, and a function target.
struct SpawnCall {
  const SpawnEntry* entry = nullptr;
  void (*function)() = nullptr;  // null for a capture-less lambda
};

// A target the child can find with no registration: a plain function (pointer) or an empty,
// default-constructible class (a capture-less lambda, a stateless functor).
template <class F>
inline constexpr bool kCrossableTarget =
    (std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>) ||
    (std::is_class_v<F> && std::is_empty_v<F> && std::is_default_constructible_v<F> &&
     !std::is_polymorphic_v<F>);

// The index of the first argument that cannot be serialized, or sizeof...(Args).
template <class... Args>
constexpr std::size_t first_unserializable() {
  constexpr bool ok[] = {Serializable<Args>..., true};
  std::size_t i = 0;
  while (i < sizeof...(Args) && ok[i]) ++i;
  return i;
}

[[noreturn]] void throw_target_cannot_cross(const std::type_info& target, StartMethod method);
[[noreturn]] void throw_argument_cannot_cross(std::size_t index, const std::type_info& type,
                                              StartMethod method);

// --- a Process's target -----------------------------------------------------------------------

class TargetBase {
 public:
  virtual ~TargetBase() = default;
  // fork: runs the target in the child (on the child's copy).
  virtual void run() = 0;
  // spawn, forkserver: appends the arguments' bytes to `args` (their descriptors to `fds`) and
  // names the code; ValueError when the target or an argument cannot cross.
  virtual SpawnCall prepare_spawn(ByteBuffer& args, FdTable& fds, StartMethod method) const = 0;
};

template <class F, class... Args>
class Target final : public TargetBase {
 public:
  template <class G, class... A>
  explicit Target(G&& fn, A&&... args)
      : fn_(std::forward<G>(fn)), args_(std::forward<A>(args)...) {}

  void run() override {
    std::apply([&](auto&... a) { std::invoke(std::move(fn_), std::move(a)...); }, args_);
  }

  SpawnCall prepare_spawn(ByteBuffer& out, FdTable& fds, StartMethod method) const override {
    if constexpr (!kCrossableTarget<F>) {
      (void)out;
      (void)fds;
      throw_target_cannot_cross(typeid(F), method);
    } else {
      constexpr std::size_t bad = first_unserializable<Args...>();
      if constexpr (bad < sizeof...(Args)) {
        (void)out;
        (void)fds;
        throw_argument_cannot_cross(bad, typeid(std::tuple_element_t<bad, std::tuple<Args...>>),
                                    method);
      } else {
        serialize_into(out, args_, &fds);
        SpawnCall call;
        call.entry = &kSpawnEntry<F, Args...>;
        if constexpr (std::is_pointer_v<F>) {
          if (fn_ == nullptr) throw ValueError("the target is a null function pointer");
          call.function = reinterpret_cast<void (*)()>(fn_);
        }
        return call;
      }
    }
  }

 private:
  F fn_;
  std::tuple<Args...> args_;
};

}  // namespace concur::multiprocessing::detail
