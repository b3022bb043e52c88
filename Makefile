# The project's commands. Each installs the Debian packages it needs when they are missing.
#   make demo   build and run the tour of seed-program ports (examples/)
#   make test   build and run the test suite with ctest (g++, then clang 14), then under ThreadSanitizer
#   make bench  build and run the benchmarks, printing each as a ratio against its peers
SHELL := /bin/bash
JOBS ?= 2
export JOBS

BUILD_DEPS := cmake g++ make
TEST_DEPS  := $(BUILD_DEPS) googletest libgtest-dev pkg-config clang-14
BENCH_DEPS := $(BUILD_DEPS) libtbb-dev libboost-dev libboost-thread-dev libconcurrentqueue-dev python3

.PHONY: demo test bench clean

demo:
	@scripts/ensure-deps.sh $(BUILD_DEPS)
	@cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DCONCUR_BUILD_TESTS=OFF -DCONCUR_BUILD_EXAMPLES=ON >/dev/null
	@cmake --build build/demo -j$(JOBS) >build/demo/build.log 2>&1 || { tail -n 60 build/demo/build.log; exit 1; }
	@scripts/demo.sh build/demo/examples

test:
	@scripts/ensure-deps.sh $(TEST_DEPS)
	@scripts/test.sh

bench:
	@scripts/ensure-deps.sh $(BENCH_DEPS)
	@cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DCONCUR_BUILD_TESTS=OFF -DCONCUR_BUILD_EXAMPLES=OFF -DCONCUR_BUILD_BENCH=ON >/dev/null
	@cmake --build build/bench -j$(JOBS) >build/bench/build.log 2>&1 || { tail -n 60 build/bench/build.log; exit 1; }
	@scripts/bench.sh build/bench/bench

clean:
	rm -rf build

# coop_bench's peers (bench/coop_bench.cpp): Boost.Context and Boost.Fiber.
BENCH_DEPS += libboost-context-dev libboost-fiber-dev

# multiprocessing's serialization needs cereal (header-only) to build the library at all.
BUILD_DEPS += libcereal-dev
TEST_DEPS += libcereal-dev
BENCH_DEPS += libcereal-dev
# actors_bench's peer (bench/actors_bench.cpp): CAF 0.17, the C++ Actor Framework.
BENCH_DEPS += libcaf-dev
# asyncio_bench's peers (bench/asyncio_bench.cpp): standalone Asio 1.22 (header-only) and uvloop.
BENCH_DEPS += libasio-dev python3-uvloop
