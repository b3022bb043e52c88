// Exceptions as values (concur/multiprocessing/serialization.hpp): the table of types that are
// rebuilt as themselves, and the encoding of a std::exception_ptr.
//
// Encoding: a kind byte (0 no exception, 1 a type of the table, 2 any other type), the type's
// name, what(), and an error code (value and category: none, generic, system, future,
// iostream). A type of the table is looked up by its name on the receiving side; a name that is
// not there (another program, a type registered on one side only) arrives as RemoteError.
//
// The table is copy-on-write: readers load one pointer (no lock, so a child forked at any
// moment can use it); register_exception() publishes a new table with a compare-and-swap. Old
// tables stay reachable from the new one (`previous`) and are never freed: a reader may still
// hold one, and registrations are few.
#include <cxxabi.h>

#include <any>
#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <ios>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <typeindex>
#include <typeinfo>
#include <variant>
#include <vector>

#include "concur/coop/errors.hpp"
#include "concur/detail/text.hpp"
#include "concur/errors.hpp"
#include "concur/futures/errors.hpp"
#include "concur/multiprocessing/errors.hpp"
#include "concur/multiprocessing/serialization.hpp"
#include "concur/queue/errors.hpp"
#include "concur/threading/barrier.hpp"

namespace concur::multiprocessing {
namespace {

struct Entry {
  std::type_index type;
  std::string name;
  detail::ExceptionFactory make;
};

struct Table {
  std::vector<Entry> entries;
  const Table* previous = nullptr;
};

enum Kind : std::uint8_t { kNone = 0, kKnown = 1, kForeign = 2 };
enum Category : std::uint8_t { kNoCategory = 0, kGeneric, kSystem, kFuture, kIostream };

std::uint8_t category_id(const std::error_category& c) {
  if (c == std::generic_category()) return kGeneric;
  if (c == std::system_category()) return kSystem;
  if (c == std::future_category()) return kFuture;
  if (c == std::iostream_category()) return kIostream;
  return kNoCategory;
}

std::error_code make_code(std::int32_t value, std::uint8_t category) {
  switch (category) {
    case kGeneric:
      return {value, std::generic_category()};
    case kSystem:
      return {value, std::system_category()};
    case kFuture:
      return {value, std::future_category()};
    case kIostream:
      return {value, std::iostream_category()};
    default:
      return value == 0 ? std::error_code() : std::error_code(value, std::generic_category());
  }
}

// system_error's what() is "<what_arg>: <code's message>"; rebuilding it from what_arg gives the
// same text.
std::string strip_code_message(const std::string& what, const std::error_code& code) {
  const std::string suffix = ": " + code.message();
  if (what.size() >= suffix.size() &&
      what.compare(what.size() - suffix.size(), suffix.size(), suffix) == 0)
    return what.substr(0, what.size() - suffix.size());
  return what;
}

template <class E>
std::exception_ptr from_what(const std::string& what, std::error_code) {
  return std::make_exception_ptr(E(what));
}
template <class E>
std::exception_ptr from_what_code(const std::string& what, std::error_code code) {
  return std::make_exception_ptr(E(what, code));
}
template <class E>
std::exception_ptr from_nothing(const std::string&, std::error_code) {
  return std::make_exception_ptr(E());
}

template <class E>
void add(std::vector<Entry>& v, detail::ExceptionFactory make) {
  v.push_back(Entry{std::type_index(typeid(E)), concur::detail::type_name(typeid(E)), make});
}

Table* builtin_table() {
  auto* t = new Table;
  auto& v = t->entries;
  // concur's errors.
  add<Error>(v, from_what<Error>);
  add<RuntimeError>(v, from_what<RuntimeError>);
  add<ValueError>(v, from_what<ValueError>);
  add<TimeoutError>(v, from_what<TimeoutError>);
  add<EOFError>(v, from_what<EOFError>);
  add<OSError>(v, from_what_code<OSError>);
  add<ConnectionError>(v, from_what_code<ConnectionError>);
  add<ConnectionRefusedError>(v, from_what_code<ConnectionRefusedError>);
  add<ConnectionResetError>(v, from_what_code<ConnectionResetError>);
  add<BrokenPipeError>(v, from_what_code<BrokenPipeError>);
  add<FileNotFoundError>(v, from_what_code<FileNotFoundError>);
  add<queue::Empty>(v, from_nothing<queue::Empty>);
  add<queue::Full>(v, from_nothing<queue::Full>);
  add<queue::ShutDown>(v, from_nothing<queue::ShutDown>);
  add<futures::CancelledError>(v, from_nothing<futures::CancelledError>);
  add<futures::InvalidStateError>(v, from_what<futures::InvalidStateError>);
  add<futures::BrokenExecutor>(v, from_what<futures::BrokenExecutor>);
  add<threading::BrokenBarrierError>(v, from_nothing<threading::BrokenBarrierError>);
  add<coop::TypeError>(v, from_what<coop::TypeError>);
  add<ProcessError>(v, from_what<ProcessError>);
  add<BufferTooShort>(v, from_what<BufferTooShort>);
  add<OwnerDied>(v, from_what<OwnerDied>);
  // The standard exception types: with their what() where they take one.
  add<std::exception>(v, from_nothing<std::exception>);
  add<std::logic_error>(v, from_what<std::logic_error>);
  add<std::invalid_argument>(v, from_what<std::invalid_argument>);
  add<std::domain_error>(v, from_what<std::domain_error>);
  add<std::length_error>(v, from_what<std::length_error>);
  add<std::out_of_range>(v, from_what<std::out_of_range>);
  add<std::runtime_error>(v, from_what<std::runtime_error>);
  add<std::range_error>(v, from_what<std::range_error>);
  add<std::overflow_error>(v, from_what<std::overflow_error>);
  add<std::underflow_error>(v, from_what<std::underflow_error>);
  add<std::system_error>(v, [](const std::string& what, std::error_code code) {
    const std::string arg = strip_code_message(what, code);
    return arg == what && what == code.message()
               ? std::make_exception_ptr(std::system_error(code))
               : std::make_exception_ptr(std::system_error(code, arg));
  });
  add<std::ios_base::failure>(v, [](const std::string& what, std::error_code code) {
    return std::make_exception_ptr(std::ios_base::failure(strip_code_message(what, code), code));
  });
  add<std::future_error>(v, [](const std::string&, std::error_code code) {
    return std::make_exception_ptr(std::future_error(static_cast<std::future_errc>(code.value())));
  });
  add<std::filesystem::filesystem_error>(v, [](const std::string& what, std::error_code code) {
    std::string arg = strip_code_message(what, code);
    const std::string prefix = "filesystem error: ";
    if (arg.compare(0, prefix.size(), prefix) == 0) arg.erase(0, prefix.size());
    return std::make_exception_ptr(std::filesystem::filesystem_error(arg, code));
  });
  add<std::bad_alloc>(v, from_nothing<std::bad_alloc>);
  add<std::bad_array_new_length>(v, from_nothing<std::bad_array_new_length>);
  add<std::bad_cast>(v, from_nothing<std::bad_cast>);
  add<std::bad_typeid>(v, from_nothing<std::bad_typeid>);
  add<std::bad_exception>(v, from_nothing<std::bad_exception>);
  add<std::bad_function_call>(v, from_nothing<std::bad_function_call>);
  add<std::bad_optional_access>(v, from_nothing<std::bad_optional_access>);
  add<std::bad_variant_access>(v, from_nothing<std::bad_variant_access>);
  add<std::bad_weak_ptr>(v, from_nothing<std::bad_weak_ptr>);
  add<std::bad_any_cast>(v, from_nothing<std::bad_any_cast>);
  return t;
}

std::atomic<const Table*>& table_root() {
  // Built on first use (thread-safe static); never freed: a table is read without a lock.
  static std::atomic<const Table*> root{builtin_table()};
  return root;
}

const Entry* find_by_type(const std::type_info& type) {
  const Table* t = table_root().load(std::memory_order_acquire);
  const std::type_index key(type);
  for (const Entry& e : t->entries)
    if (e.type == key) return &e;
  return nullptr;
}

const Entry* find_by_name(const std::string& name) {
  const Table* t = table_root().load(std::memory_order_acquire);
  for (const Entry& e : t->entries)
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace

namespace detail {

void register_exception(const std::type_info& type, std::string name, ExceptionFactory make) {
  auto& root = table_root();
  const Table* old = root.load(std::memory_order_acquire);
  for (;;) {
    auto next = std::make_unique<Table>();
    next->entries.reserve(old->entries.size() + 1);
    for (const Entry& e : old->entries)
      if (e.type != std::type_index(type)) next->entries.push_back(e);
    next->entries.push_back(Entry{std::type_index(type), name, make});
    next->previous = old;
    if (root.compare_exchange_weak(old, next.get(), std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
      next.release();  // reachable from the root from now on
      return;
    }
  }
}

}  // namespace detail

void CEREAL_SAVE_FUNCTION_NAME(OutputArchive& ar, const std::exception_ptr& error) {
  std::uint8_t kind = kNone;
  std::string name;
  std::string what;
  std::error_code code;
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const RemoteError& e) {
      // Already a stand-in: it travels on as the original type's name and text.
      kind = kForeign;
      name = e.type_name();
      what = e.message();
    } catch (const std::exception& e) {
      what = e.what();
      if (const auto* os = dynamic_cast<const OSError*>(&e)) code = os->code();
      if (const auto* sys = dynamic_cast<const std::system_error*>(&e)) code = sys->code();
      if (const auto* fut = dynamic_cast<const std::future_error*>(&e)) code = fut->code();
      if (const Entry* entry = find_by_type(typeid(e))) {
        kind = kKnown;
        name = entry->name;
      } else {
        kind = kForeign;
        name = concur::detail::type_name(typeid(e));
      }
    } catch (...) {
      kind = kForeign;
      const std::type_info* type = abi::__cxa_current_exception_type();
      name = type ? concur::detail::type_name(*type) : std::string("unknown exception");
    }
  }
  ar(kind);
  if (kind == kNone) return;
  const std::int32_t value = code.value();
  const std::uint8_t category =
      code ? category_id(code.category()) : static_cast<std::uint8_t>(kNoCategory);
  ar(name, what, value, category);
}

void CEREAL_LOAD_FUNCTION_NAME(InputArchive& ar, std::exception_ptr& error) {
  std::uint8_t kind = kNone;
  ar(kind);
  if (kind == kNone) {
    error = nullptr;
    return;
  }
  if (kind != kKnown && kind != kForeign) ar.fail("unknown exception kind");
  std::string name;
  std::string what;
  std::int32_t value = 0;
  std::uint8_t category = kNoCategory;
  ar(name, what, value, category);
  if (category > kIostream) ar.fail("unknown error category");
  if (kind == kKnown) {
    if (const Entry* entry = find_by_name(name)) {
      try {
        error = entry->make(what, make_code(value, category));
        return;
      } catch (const std::exception&) {
        // A factory that cannot rebuild this (a future_error with a code it refuses): fall
        // through to the stand-in.
      }
    }
  }
  error = std::make_exception_ptr(RemoteError(std::move(name), std::move(what)));
}

}  // namespace concur::multiprocessing
