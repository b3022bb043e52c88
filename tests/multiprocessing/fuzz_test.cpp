// The decoder under fuzzing, as a ctest (fuzz/decode_harness.hpp says what must hold): millions
// of random and mutated inputs, seeded and bounded in time, fed to mp::deserialize<T> directly
// and as frame streams to a Connection. Every attempt must end in a value or a clear concur
// error; the memory any one decode allocates is measured (a replaced operator new) and must stay
// within the decoder's bound, whatever the input's length fields claim.
//
// Seed and budget: CONCUR_FUZZ_SEED (default fixed, printed), CONCUR_FUZZ_SECONDS (default 10:
// three quarters direct decoding, one quarter through connections), and at most kMaxDirect /
// kMaxStreams attempts. The counts reached are printed; no assertion depends on speed.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <new>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "fuzz/decode_harness.hpp"

// --- allocation accounting: bytes allocated on this thread while armed ---
// (The replacements below pair operator new with malloc and delete with free; g++ sees both
// inlined and would warn that free() meets memory from operator new.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
thread_local bool t_counting = false;
thread_local std::size_t t_allocated = 0;
thread_local std::size_t t_largest = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (t_counting) {
    t_allocated += n;
    t_largest = std::max(t_largest, n);
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

namespace mp = concur::multiprocessing;
using concur_fuzz::Finding;
using concur_fuzz::kTypeCount;
using Bytes = std::vector<std::byte>;
using Rng = std::mt19937_64;

constexpr long kMaxDirect = 4'000'000;
constexpr long kMaxStreams = 400'000;

std::uint64_t seed() {
  if (const char* s = std::getenv("CONCUR_FUZZ_SEED")) return std::strtoull(s, nullptr, 0);
  return 0x5eed'c0ffee'2026ULL;
}

std::chrono::duration<double> budget() {
  double seconds = 10;
  if (const char* s = std::getenv("CONCUR_FUZZ_SECONDS")) seconds = std::atof(s);
  return std::chrono::duration<double>(seconds);
}

std::string hex(std::span<const std::byte> b) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < b.size() && i < 256; ++i) {
    out += digits[static_cast<unsigned>(b[i]) >> 4];
    out += digits[static_cast<unsigned>(b[i]) & 15];
  }
  if (b.size() > 256) out += "...";
  return out;
}

// --- valid encodings to mutate ---
Bytes seed_value(Rng& rng, std::size_t type) {
  using namespace concur_fuzz;
  auto str = [&rng](std::size_t max) {
    std::string s(rng() % (max + 1), 'a');
    for (char& c : s) c = static_cast<char>('a' + rng() % 26);
    return s;
  };
  switch (type % kTypeCount) {
    case 0:
      return mp::serialize(static_cast<std::int32_t>(rng()));
    case 1:
      return mp::serialize(rng() % 2 == 0);
    case 2:
      return mp::serialize(static_cast<double>(rng() % 1000) / 7);
    case 3:
      return mp::serialize(rng() % 2 ? Color::red : Color::green);
    case 4:
      return mp::serialize(str(40));
    case 5: {
      std::vector<std::int32_t> v(rng() % 20);
      for (auto& x : v) x = static_cast<std::int32_t>(rng());
      return mp::serialize(v);
    }
    case 6: {
      std::vector<std::string> v(rng() % 6);
      for (auto& x : v) x = str(10);
      return mp::serialize(v);
    }
    case 7:
      return mp::serialize(std::vector<bool>(rng() % 9, true));
    case 8: {
      std::map<std::string, std::vector<double>> m;
      for (int i = static_cast<int>(rng() % 4); i > 0; --i)
        m[str(5)] = std::vector<double>(rng() % 4, 1.5);
      return mp::serialize(m);
    }
    case 9: {
      std::variant<std::monostate, std::int32_t, std::string, std::vector<std::uint8_t>> v;
      switch (rng() % 4) {
        case 1:
          v = std::int32_t{5};
          break;
        case 2:
          v = str(8);
          break;
        case 3:
          v = std::vector<std::uint8_t>(rng() % 8, 7);
          break;
        default:
          break;
      }
      return mp::serialize(v);
    }
    case 10: {
      std::optional<std::pair<std::int32_t, std::string>> o;
      if (rng() % 2) o.emplace(3, str(6));
      return mp::serialize(o);
    }
    case 11: {
      std::tuple<std::uint8_t, std::set<std::int32_t>,
                 std::unordered_map<std::int32_t, std::string>>
          t;
      std::get<0>(t) = 9;
      for (int i = static_cast<int>(rng() % 4); i > 0; --i)
        std::get<1>(t).insert(static_cast<std::int32_t>(rng()));
      for (int i = static_cast<int>(rng() % 3); i > 0; --i)
        std::get<2>(t)[static_cast<std::int32_t>(rng() % 9)] = str(4);
      return mp::serialize(t);
    }
    case 12: {
      Tree root{1, {}, std::nullopt};
      Tree* at = &root;
      for (int d = static_cast<int>(rng() % 6); d > 0; --d) {
        at->kids.resize(1 + rng() % 2);
        at->kids[0].name = str(3);
        at = &at->kids[0];
      }
      return mp::serialize(root);
    }
    case 13:
      return mp::serialize(std::vector<Raw>(rng() % 3, Raw{1, 2.0, {'x', 'y', 'z'}}));
    case 14:
      return mp::serialize(std::deque<std::int16_t>(rng() % 5, 3));
    case 15:
      return mp::serialize(std::list<std::string>(rng() % 3, str(3)));
    case 16:
      return mp::serialize(std::array<std::string, 2>{str(3), str(3)});
    case 17:
      return mp::serialize(std::chrono::milliseconds(static_cast<std::int64_t>(rng() % 100000)));
    default: {
      std::exception_ptr e;
      switch (rng() % 5) {
        case 0:
          e = std::make_exception_ptr(concur::ValueError(str(10)));
          break;
        case 1:
          e = std::make_exception_ptr(
              std::system_error(std::error_code(5, std::generic_category()), "io"));
          break;
        case 2:
          e = std::make_exception_ptr(std::future_error(std::future_errc::no_state));
          break;
        case 3:
          e = std::make_exception_ptr(42);
          break;
        default:
          break;
      }
      return mp::serialize(e);
    }
  }
}

// Lengths and counts that break decoders.
std::uint64_t interesting(Rng& rng, std::size_t size) {
  static const std::uint64_t fixed[] = {0,
                                        1,
                                        2,
                                        3,
                                        7,
                                        8,
                                        0x7F,
                                        0x80,
                                        0xFF,
                                        0x100,
                                        0x7FFF,
                                        0xFFFF,
                                        0x7FFFFFFF,
                                        0x80000000,
                                        0xFFFFFFFF,
                                        0x100000000,
                                        0x7FFFFFFFFFFFFFFF,
                                        0x8000000000000000,
                                        0xFFFFFFFFFFFFFFFF,
                                        std::uint64_t{1} << 40,
                                        std::uint64_t{1} << 62};
  switch (rng() % 4) {
    case 0:
      return size + rng() % 3;
    case 1:
      return size > 0 ? size - 1 : 0;
    default:
      return fixed[rng() % (sizeof fixed / sizeof fixed[0])];
  }
}

void mutate(Rng& rng, Bytes& b) {
  const int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    switch (rng() % 9) {
      case 0:  // flip a bit
        if (!b.empty()) b[rng() % b.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
        break;
      case 1:  // a random byte
        if (!b.empty()) b[rng() % b.size()] = static_cast<std::byte>(rng());
        break;
      case 2: {  // an interesting 8-byte or 4-byte value (a count, a length, an index)
        const std::uint64_t v = interesting(rng, b.size());
        const std::size_t w = rng() % 2 ? 8 : 4;
        if (b.size() >= w) std::memcpy(b.data() + rng() % (b.size() - w + 1), &v, w);
        break;
      }
      case 3:  // truncate
        if (!b.empty()) b.resize(rng() % b.size());
        break;
      case 4:  // append random bytes
        for (int i = static_cast<int>(rng() % 16); i > 0; --i)
          b.push_back(static_cast<std::byte>(rng()));
        break;
      case 5: {  // delete a run
        if (b.size() < 2) break;
        const std::size_t at = rng() % b.size();
        const std::size_t n = std::min<std::size_t>(1 + rng() % 8, b.size() - at);
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                b.begin() + static_cast<std::ptrdiff_t>(at + n));
        break;
      }
      case 6: {  // duplicate a run
        if (b.empty() || b.size() > 4096) break;
        const std::size_t at = rng() % b.size();
        const std::size_t n = std::min<std::size_t>(1 + rng() % 16, b.size() - at);
        Bytes run(b.begin() + static_cast<std::ptrdiff_t>(at),
                  b.begin() + static_cast<std::ptrdiff_t>(at + n));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(rng() % (b.size() + 1)), run.begin(),
                 run.end());
        break;
      }
      case 7:  // a byte 0 or 0xFF or 1 or 2 (bool and index edges)
        if (!b.empty()) {
          static const unsigned char edge[] = {0, 1, 2, 0xFF, 0x80, 0x7F};
          b[rng() % b.size()] = static_cast<std::byte>(edge[rng() % 6]);
        }
        break;
      default:
        break;  // unchanged this round
    }
  }
}

Bytes random_bytes(Rng& rng) {
  Bytes b(rng() % (rng() % 8 == 0 ? 4096 : 48));
  for (auto& x : b) x = static_cast<std::byte>(rng());
  return b;
}

Bytes make_input(Rng& rng, std::size_t& type) {
  type = rng() % kTypeCount;
  if (rng() % 8 == 0) return random_bytes(rng);
  Bytes b = seed_value(rng, rng() % 4 == 0 ? rng() : type);  // mostly the type it will be read as
  if (rng() % 16 != 0) mutate(rng, b);                       // some stay valid
  return b;
}

void append_frame(Rng& rng, Bytes& stream, const Bytes& body) {
  std::uint64_t len = body.size();
  if (rng() % 6 == 0) len = interesting(rng, body.size());  // a header that lies
  if (len < 0x80000000u && rng() % 8 != 0) {
    const std::uint32_t be = __builtin_bswap32(static_cast<std::uint32_t>(len));
    const auto* p = reinterpret_cast<const std::byte*>(&be);
    stream.insert(stream.end(), p, p + 4);
  } else {
    const std::uint32_t minus_one = 0xFFFFFFFFu;
    const std::uint64_t be = __builtin_bswap64(len);
    const auto* m = reinterpret_cast<const std::byte*>(&minus_one);
    const auto* p = reinterpret_cast<const std::byte*>(&be);
    stream.insert(stream.end(), m, m + 4);
    stream.insert(stream.end(), p, p + 8);
  }
  stream.insert(stream.end(), body.begin(), body.end());
}

TEST(DecoderFuzz, RandomAndMutatedInputs) {
  const std::uint64_t s = seed();
  Rng rng(s);
  const auto total = budget();
  const auto start = std::chrono::steady_clock::now();
  const auto direct_end =
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(total * 3 / 4);
  const auto stream_end =
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(total);

  long direct = 0;
  std::size_t worst_ratio_input = 0, worst_allocated = 0;
  Finding finding;
  while (direct < kMaxDirect &&
         (direct % 1024 != 0 || std::chrono::steady_clock::now() < direct_end)) {
    std::size_t type = 0;
    const Bytes input = make_input(rng, type);
    // As the type it was made for (mostly), then as three others.
    for (int k = 0; k < 4; ++k) {
      if (k > 0) type = rng() % kTypeCount;
      t_allocated = 0;
      t_counting = true;
      const bool ok = concur_fuzz::decode_as(type, input, finding);
      t_counting = false;
      ++direct;
      if (!ok) {
        FAIL() << "seed " << s << ", attempt " << direct << ": decoding as " << finding.type
               << " ended in an unexpected error: " << finding.what << "\ninput: " << hex(input);
      }
      // The decoder's bound (serialization.hpp): its allowance for containers, the input's own
      // bytes for raw ranges and strings, and the small fixed cost of the value's nodes and of
      // an error's message.
      const std::size_t bound =
          mp::kBudgetBase + (mp::kBudgetPerByte + 16) * input.size() + 64 * 1024;
      if (t_allocated > bound) {
        FAIL() << "seed " << s << ", attempt " << direct << ": decoding " << input.size()
               << " bytes as type #" << type << " allocated " << t_allocated << " bytes (bound "
               << bound << ")\ninput: " << hex(input);
      }
      if (t_allocated > worst_allocated) {
        worst_allocated = t_allocated;
        worst_ratio_input = input.size();
      }
    }
  }

  long streams = 0, recvs = 0;
  std::size_t stream_largest = 0;
  const std::size_t limit = 1 << 20;
  while (streams < kMaxStreams && std::chrono::steady_clock::now() < stream_end) {
    Bytes stream;
    const int frames = 1 + static_cast<int>(rng() % 6);
    for (int f = 0; f < frames && stream.size() < (48 << 10); ++f) {
      std::size_t type = 0;
      append_frame(rng, stream, make_input(rng, type));
    }
    if (rng() % 4 == 0) mutate(rng, stream);  // damage the framing itself
    if (rng() % 8 == 0 && !stream.empty()) stream.resize(rng() % stream.size());  // cut short
    t_largest = 0;
    t_counting = true;
    const long calls = concur_fuzz::through_connection(stream, rng(), limit, finding);
    t_counting = false;
    ++streams;
    if (calls < 0) {
      FAIL() << "seed " << s << ", stream " << streams << ": recv as " << finding.type
             << " ended in an unexpected error: " << finding.what << "\nstream: " << hex(stream);
    }
    recvs += calls;
    stream_largest = std::max(stream_largest, t_largest);
    // Nothing beyond the connection's limit is allocated for a frame, whatever its header says.
    ASSERT_LE(t_largest, std::max<std::size_t>(
                             limit, mp::kBudgetBase + (mp::kBudgetPerByte + 16) * stream.size()))
        << "seed " << s << ", stream " << streams;
  }
  std::printf(
      "[ fuzz     ] seed %llu: %ld direct decodes, %ld streams (%ld recv calls); largest "
      "allocation total for one decode %zu bytes (input %zu bytes); largest single "
      "allocation through a connection %zu bytes\n",
      static_cast<unsigned long long>(s), direct, streams, recvs, worst_allocated,
      worst_ratio_input, stream_largest);
  EXPECT_GT(direct, 0);
  EXPECT_GT(streams, 0);
}

}  // namespace
