// libFuzzer target for the decoder (decode_harness.hpp says what must hold). Built with clang
// when CONCUR_BUILD_FUZZERS is ON (tests/multiprocessing/CMakeLists.txt), with AddressSanitizer
// and UBSan; `ctest -R libfuzzer` runs it for a bounded time, or run it by hand:
//   build/fuzz/tests/multiprocessing/mp_decode_fuzzer -max_total_time=600 corpus/
// The first byte picks the type and the path: below 0x80, mp::deserialize<T> of the rest as
// type (byte % types); from 0x80, the rest is a frame stream read by a Connection whose limit is
// 1 MiB. Anything but a value or a clear concur error aborts, which libFuzzer reports.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "decode_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const std::byte> rest(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  concur_fuzz::Finding finding;
  bool ok = true;
  if (data[0] < 0x80) {
    ok = concur_fuzz::decode_as(data[0], rest, finding);
  } else if (rest.size() <= (48u << 10)) {
    ok = concur_fuzz::through_connection(rest, data[0], std::size_t{1} << 20, finding) >= 0;
  }
  if (!ok) {
    std::fprintf(stderr, "decoding as %s ended in an unexpected error: %s\n", finding.type.c_str(),
                 finding.what.c_str());
    std::abort();
  }
  return 0;
}
