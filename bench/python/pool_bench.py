#!/usr/bin/env python3
"""CPython's process pools on the workloads of bench/pool_bench.cpp.

Two ways to run it (bench_common.py): with --serve, the harness's co-process, answering
"<workload> <n>" with the seconds n operations took; without, stand-alone, rates printed.

Every pool uses the "fork" context (the C++ side's default start method; Python 3.11's default on
Linux too), and is created and warmed (its workers started and one task run) before the clock
starts, shut down after it stops, unless the workload says otherwise.

map-c<K>         Pool(2).map(square, data, chunksize=K) with data = list(range(200000)), called
                 n / 200000 times (n is a multiple of 200000: the C++ side sends it so); each
                 result's size and two values are checked and it is dropped (as a program that
                 consumes its results), the last is checked in full after the clock stops.
                 K = 0 means map's default (len / (4 x processes) = 25000).
                 One Pool(2) serves every map sample: made and warmed (one untimed map) by the
                 first, terminated by map-close.
submit_result    ProcessPoolExecutor(2): n empty tasks (task(i) returns i) submitted in batches of
                 BATCH, then every result taken in order and checked:
                     fs = [ex.submit(task, i) for i in batch]; for f in fs: f.result()
latency          one task submitted to an idle ProcessPoolExecutor(2) (idle IDLE seconds before
                 each submit): the seconds from submit() to result() of that one task (n is the
                 task's argument). The executor is made by latency-open and kept until
                 latency-close, so that the samples interleave with the C++ ones.
replace-ppe      n times: submit(killer) on a ProcessPoolExecutor(1), whose worker kills itself
                 (SIGKILL); result() raises BrokenProcessPool; the executor is shut down and a new
                 ProcessPoolExecutor(1) made; submit(task).result() of the next task. Timed from
                 the killer's submit() to that result.
replace-pool     n times: Pool(1).apply_async(killer), then Pool.apply(task): the Pool replaces its
                 dead worker (its maintenance thread looks every 0.1 s) and the next task runs on
                 the new one; the killer's own result never arrives (CPython loses it: its
                 AsyncResult.get() would wait forever). Timed from the killer's apply_async() to
                 the next task's result.
fib-1, fib-2     n calls fib(FIB_N) on ProcessPoolExecutor(1) / (2) (map, chunksize 1): for the
                 stand-alone run, Python's own 2-vs-1 scaling.
"""
import concurrent.futures
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures.process import BrokenProcessPool

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (found through the line above)

perf_counter = time.perf_counter
_fork = multiprocessing.get_context("fork")

MAP_SIZE = 200_000      # kMapSize in pool_bench.cpp
MAP_CHUNKSIZES = (0, 2000, 10000, 50000, 100000)   # 0: map's default (25000 here)
BATCH = 20_000          # kBatch
WARM = 16               # kWarm
IDLE = 0.005            # kIdle
TIMEOUT = 60            # seconds: a result that takes longer fails the sample
FIB_N = 22


def square(x):
    return x * x


def task(i):
    return i


def killer(i):
    os.kill(os.getpid(), signal.SIGKILL)
    return i


def fib(n):
    return 1 if n < 2 else fib(n - 1) + fib(n - 2)


# ---- map ---------------------------------------------------------------------------------------
_DATA = list(range(MAP_SIZE))
_EXPECTED = sum(x * x for x in _DATA)
_map_pool = None  # one Pool(2) for every map sample, made (and warmed) by the first


def _map(chunksize):
    def run(n):
        global _map_pool
        calls = max(1, n // MAP_SIZE)
        kwargs = {"chunksize": chunksize} if chunksize else {}
        if _map_pool is None:
            _map_pool = _fork.Pool(2)
            _map_pool.map(square, _DATA)  # warm-up: the workers are up, their memory in use
        pool = _map_pool
        last = (MAP_SIZE - 1) ** 2
        ok = True
        t0 = perf_counter()
        for _ in range(calls):
            r = pool.map(square, _DATA, **kwargs)
            ok = ok and len(r) == MAP_SIZE and r[7] == 49 and r[-1] == last
        elapsed = perf_counter() - t0
        if not ok or sum(r) != _EXPECTED:
            raise RuntimeError("wrong result: Pool.map(square)")
        return elapsed
    return run


def map_close(n):
    global _map_pool
    if _map_pool is not None:
        _map_pool.terminate()
        _map_pool.join()
        _map_pool = None
    return 1.0


# ---- submit + result ---------------------------------------------------------------------------
def _new_ppe(workers):
    return concurrent.futures.ProcessPoolExecutor(workers, mp_context=_fork)


def submit_result(n):
    n = max(1, n)
    with _new_ppe(2) as ex:
        submit = ex.submit
        for f in [submit(task, i) for i in range(WARM)]:  # starts the workers
            f.result(TIMEOUT)
        total = 0
        t0 = perf_counter()
        for base in range(0, n, BATCH):
            fs = [submit(task, i) for i in range(base, min(n, base + BATCH))]
            for i, f in enumerate(fs, base):
                r = f.result(TIMEOUT)
                if r != i:
                    raise RuntimeError(f"wrong result: task {i} returned {r}")
                total += r
        elapsed = perf_counter() - t0
    if total != n * (n - 1) // 2:
        raise RuntimeError("wrong sum of the results")
    return elapsed


# ---- latency -----------------------------------------------------------------------------------
_latency_ex = None


def latency_open(n):
    global _latency_ex
    _latency_ex = _new_ppe(2)
    for f in [_latency_ex.submit(task, i) for i in range(WARM)]:
        f.result(TIMEOUT)
    return 1.0


def latency_close(n):
    global _latency_ex
    if _latency_ex is not None:
        _latency_ex.shutdown()
        _latency_ex = None
    return 1.0


def latency(n):
    if _latency_ex is None:
        latency_open(0)
    time.sleep(IDLE)
    t0 = perf_counter()
    r = _latency_ex.submit(task, n).result(TIMEOUT)
    elapsed = perf_counter() - t0
    if r != n:
        raise RuntimeError("wrong result: the latency task")
    return elapsed


# ---- replacing a dead worker -------------------------------------------------------------------
def replace_ppe(n):
    ex = _new_ppe(1)
    ex.submit(task, 0).result(TIMEOUT)
    elapsed = 0.0
    try:
        for i in range(max(1, n)):
            t0 = perf_counter()
            f = ex.submit(killer, i)
            try:
                f.result(TIMEOUT)
                raise RuntimeError("the killer task returned")
            except BrokenProcessPool:
                pass
            ex.shutdown()
            ex = _new_ppe(1)
            r = ex.submit(task, i).result(TIMEOUT)
            elapsed += perf_counter() - t0
            if r != i:
                raise RuntimeError("wrong result: the task after the killer")
    finally:
        ex.shutdown()
    return elapsed


def replace_pool(n):
    elapsed = 0.0
    with _fork.Pool(1) as pool:
        pool.apply(task, (0,))
        for i in range(max(1, n)):
            t0 = perf_counter()
            pool.apply_async(killer, (i,))  # its result is lost with the worker
            r = pool.apply_async(task, (i,)).get(TIMEOUT)
            elapsed += perf_counter() - t0
            if r != i:
                raise RuntimeError("wrong result: the task after the killer")
    return elapsed


# ---- fib scaling (stand-alone information) ------------------------------------------------------
def _fib(workers):
    def run(n):
        with _new_ppe(workers) as ex:
            list(ex.map(task, range(2 * workers)))
            t0 = perf_counter()
            results = list(ex.map(fib, [FIB_N] * max(1, n)))
            elapsed = perf_counter() - t0
        if any(r != results[0] for r in results):
            raise RuntimeError("wrong result: fib")
        return elapsed
    return run


WORKLOADS = {f"map-c{k}": _map(k) for k in MAP_CHUNKSIZES}
WORKLOADS.update({
    "map-close": map_close,
    "submit_result": submit_result,
    "latency-open": latency_open,
    "latency": latency,
    "latency-close": latency_close,
    "replace-ppe": replace_ppe,
    "replace-pool": replace_pool,
    "fib-1": _fib(1),
    "fib-2": _fib(2),
})


def _standalone():
    """A few samples of each workload; map rates are ints/s."""
    print(f"{os.cpu_count()} CPUs, usable {len(os.sched_getaffinity(0))}", flush=True)
    for k in MAP_CHUNKSIZES:
        run = WORKLOADS[f"map-c{k}"]
        times = sorted(run(2 * MAP_SIZE) for _ in range(3))
        label = f"map chunksize={k or 'default'}"
        print(f"{label:28s} {2 * MAP_SIZE / times[1] / 1e6:8.2f} M ints/s", flush=True)
    map_close(0)
    n = 2000
    times = sorted(submit_result(n) for _ in range(3))
    print(f"{'submit_result PPE(2)':28s} {n / times[1] / 1e3:8.1f} K tasks/s", flush=True)
    latency_open(0)
    lat = sorted(latency(i) for i in range(100))
    latency_close(0)
    print(f"{'latency PPE(2)':28s} median {lat[50] * 1e6:7.0f} us  p99 {lat[98] * 1e6:7.0f} us",
          flush=True)
    for name in ("replace-ppe", "replace-pool"):
        times = sorted(WORKLOADS[name](1) for _ in range(5))
        print(f"{name:28s} median {times[2] * 1e3:7.1f} ms", flush=True)
    one, two = _fib(1)(8), _fib(2)(8)
    print(f"{'fib(%d) x 8 PPE(1) / PPE(2)' % FIB_N:28s} {one:.3f} s / {two:.3f} s: "
          f"{one / two:.2f}x", flush=True)


if __name__ == "__main__":
    if "--serve" in sys.argv[1:]:
        bench_common.serve(WORKLOADS.get)
    else:
        _standalone()
