// concur/coop/generator.hpp — co::Generator<T>: Python's generator, a coroutine that produces
// values with `co_yield` and is consumed with next() or a range-for; co::Generator<T, In> also
// receives values through send(), as Python's generator.send().
//
//   co::Generator<int> numbers(int n) { for (int i = 0; i < n; ++i) co_yield i; }
//   for (int x : numbers(3)) {}           // 0 1 2 (an input range: std::ranges::input_range)
//   co::Generator<int> g = numbers(3);
//   std::optional<int> x = g.next();      // Python's next(g); nullopt once exhausted
//
//   co::Generator<int, std::string> echo() {
//     for (;;) { std::string s = co_yield 42; ... }   // s: the value given to send()
//   }
//   auto e = echo();
//   e.next();                             // runs to the first co_yield (Python: next(e))
//   int y = *e.send("hi");                // resumes with "hi", returns the next yielded value
//   e.close();                            // the frame is destroyed
//
// Contract (Python's generator protocol, PEP 342)
// - Lazy: calling the coroutine function runs nothing; the body starts at the first next(),
//   send() is refused then (see below), or begin().
// - next() resumes the body until its next `co_yield v` and returns v (moved out), or returns
//   std::nullopt once the body has finished (fallen off its end or `co_return;`); next() of a
//   finished, closed or moved-from generator returns std::nullopt and runs nothing (Python:
//   StopIteration every time).
// - Generator<T, In>: the value of `co_yield v` inside is the In given to the send() that
//   resumed the body; next() resumes it with In{} (Python sends None), and throws
//   co::TypeError without running anything when In has no default value. send(v) returns what
//   next() would. send() before the first next() throws co::TypeError and leaves the generator
//   unstarted (Python: "can't send non-None value to a just-started generator"); send() of a
//   finished, closed or moved-from generator returns std::nullopt.
// - close(): the frame is destroyed now (its locals are destroyed as at scope exit: Python's
//   finally blocks run); afterwards the generator is finished. close() of an unstarted,
//   finished or closed generator just makes (or leaves) it finished. Unlike Python, nothing is
//   thrown into the body (no GeneratorExit) and the body cannot yield during close().
// - Range: begin() resumes the body to its next value (as the first next() of Python's for
//   loop) and the iterator's ++ to the one after; *it is the current value (an lvalue in the
//   frame: it may be moved from). it == end() once the body has finished. A generator is one
//   pass: a second begin() continues where the first loop stopped. Iterators are invalidated by
//   close() and by the generator's destruction, not by moving the Generator. A Generator<T, In>
//   is a range when In has a default value (each step sends In{}).
// - Exceptions: an exception that escapes the body propagates out of the next(), send(),
//   begin() or ++ that resumed it, once; the generator is then finished (Python: the same
//   exception, then StopIteration). next()/send()/close() from inside the generator's own body
//   throw concur::ValueError ("generator already executing"), as in Python.
// - Ownership: a Generator is move-only and owns its coroutine frame; the destructor destroys
//   it. A moved-from Generator is empty: it behaves as a closed one. Bind arguments by value:
//   a reference parameter must outlive the generator.
// - Thread-safety: none inside; one thread at a time may use a generator (it may move between
//   threads when the hand-over synchronises, e.g. through a queue or join()).
// - T is an object type (not a reference, not void: a coroutine that yields nothing is a
//   co::Task); In is void (no send()) or an object type.
#pragma once

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <iterator>
#include <optional>
#include <type_traits>
#include <utility>

#include "concur/coop/detail/resume.hpp"
#include "concur/coop/errors.hpp"

namespace concur::coop {

template <class T, class In = void>
class Generator;

namespace detail {

template <class T, class In>
struct GeneratorPromise;

template <class T>
struct GeneratorPromiseBase : FrameState {
  std::optional<T> value;  // the value of the last co_yield, until taken

  std::suspend_always initial_suspend() noexcept { return {}; }
  std::suspend_always final_suspend() noexcept { return {}; }
  void return_void() noexcept {}
  void unhandled_exception() noexcept { error = std::current_exception(); }

  template <class U>
  void store(U&& v) {
    value.emplace(std::forward<U>(v));
  }
};

// Generator<T>: `co_yield v` is a void expression.
template <class T>
struct GeneratorPromise<T, void> : GeneratorPromiseBase<T> {
  Generator<T> get_return_object() noexcept {
    return Generator<T>(std::coroutine_handle<GeneratorPromise>::from_promise(*this));
  }

  std::suspend_always yield_value(const T& v) {
    this->store(v);
    return {};
  }
  std::suspend_always yield_value(T&& v) {
    this->store(std::move(v));
    return {};
  }
};

// Generator<T, In>: `co_yield v` evaluates to the In that resumed the body.
template <class T, class In>
struct GeneratorPromise : GeneratorPromiseBase<T> {
  std::optional<In> sent;  // set by send() just before it resumes the body

  class Received {
   public:
    explicit Received(GeneratorPromise& p) noexcept : p_(&p) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    In await_resume() const {
      if (p_->sent) {
        In v(std::move(*p_->sent));
        p_->sent.reset();
        return v;
      }
      if constexpr (std::default_initializable<In>) {
        return In{};  // resumed by next(): Python's None
      } else {
        // next() refuses before resuming when In has no default; never reached.
        std::terminate();
      }
    }

   private:
    GeneratorPromise* p_;
  };

  Generator<T, In> get_return_object() noexcept {
    return Generator<T, In>(std::coroutine_handle<GeneratorPromise>::from_promise(*this));
  }

  Received yield_value(const T& v) {
    this->store(v);
    return Received(*this);
  }
  Received yield_value(T&& v) {
    this->store(std::move(v));
    return Received(*this);
  }
};

}  // namespace detail

template <class T, class In>
class Generator {
  static_assert(std::is_object_v<T> && !std::is_array_v<T>,
                "co::Generator<T>: T must be an object type (use co::Task to yield nothing)");
  static_assert(std::is_void_v<In> || (std::is_object_v<In> && !std::is_array_v<In>),
                "co::Generator<T, In>: In must be void or an object type");

 public:
  using promise_type = detail::GeneratorPromise<T, In>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;

    iterator() noexcept = default;

    T& operator*() const noexcept { return *h_.promise().value; }
    T* operator->() const noexcept { return &*h_.promise().value; }
    iterator& operator++() {
      h_.promise().value.reset();
      detail::resume_once(h_);
      return *this;
    }
    void operator++(int) { ++*this; }

    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.h_ || it.h_.done();
    }

   private:
    friend class Generator;
    explicit iterator(handle_type h) noexcept : h_(h) {}
    handle_type h_;
  };

  Generator() noexcept = default;  // empty, as a moved-from Generator
  Generator(Generator&& other) noexcept : h_(std::exchange(other.h_, nullptr)) {}
  Generator& operator=(Generator&& other) noexcept {
    if (this != &other) {
      if (h_) h_.destroy();
      h_ = std::exchange(other.h_, nullptr);
    }
    return *this;
  }
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;
  ~Generator() {
    if (h_) h_.destroy();
  }

  // Python's next(g): the next yielded value, std::nullopt once the body has finished.
  std::optional<T> next() {
    if (!h_ || h_.done()) return std::nullopt;
    if constexpr (!std::is_void_v<In> && !std::default_initializable<In>) {
      if (h_.promise().started)
        throw TypeError("next() of a generator whose sent type has no default value: use send()");
    }
    return advance();
  }

  // Python's g.send(v): resumes the body with v as the value of its pending co_yield.
  template <class U = In>
    requires(!std::is_void_v<In> && std::constructible_from<In, U &&>)
  std::optional<T> send(U&& v) {
    if (!h_ || h_.done()) return std::nullopt;
    promise_type& p = h_.promise();
    if (p.running) detail::throw_already_executing();
    if (!p.started) throw TypeError("can't send a value to a just-started generator: call next() first");
    p.sent.emplace(std::forward<U>(v));
    return advance();
  }

  // Python's g.close(): destroys the frame; the generator is finished from now on.
  void close() {
    if (!h_) return;
    if (h_.promise().running) detail::throw_already_executing();
    std::exchange(h_, nullptr).destroy();
  }

  // Resumes the body to its next value (see the contract above); end() is std::default_sentinel.
  iterator begin()
    requires(std::is_void_v<In> || std::default_initializable<In>)
  {
    if (h_ && !h_.done()) {
      h_.promise().value.reset();
      detail::resume_once(h_);
    }
    return iterator(h_);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend promise_type;
  explicit Generator(handle_type h) noexcept : h_(h) {}

  std::optional<T> advance() {
    promise_type& p = h_.promise();
    p.value.reset();
    struct DropSent {  // a send() whose value the body never took (it threw, or finished)
      promise_type& p;
      ~DropSent() {
        if constexpr (!std::is_void_v<In>) p.sent.reset();
      }
    } drop{p};
    detail::resume_once(h_);
    if (h_.done()) return std::nullopt;
    std::optional<T> v(std::move(p.value));
    p.value.reset();
    return v;
  }

  handle_type h_;
};

}  // namespace concur::coop
