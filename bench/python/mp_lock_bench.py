#!/usr/bin/env python3
"""Python's multiprocessing.Lock on the workloads of bench/mp_lock_bench.cpp.

Two ways to run it (bench_common.py): with --serve, the harness's co-process, answering
"<workload> <n>" with the seconds n operations took; without, stand-alone, rates printed.

lock_uncontended: n acquire+release pairs (with an increment) on one thread.
lock_contended: this process and a forked child each increment a shared counter (a RawValue)
n/2 times under one multiprocessing.Lock; timed from the start Event to the child's join.
"""
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (found through the line above)

_ctx = multiprocessing.get_context("fork")


def lock_uncontended(n):
    lock = _ctx.Lock()
    counter = 0
    t0 = time.perf_counter()
    for _ in range(n):
        with lock:
            counter += 1
    elapsed = time.perf_counter() - t0
    if counter != n:
        raise RuntimeError("uncontended counter wrong")
    return elapsed


def _hammer(lock, counter, go, per):
    go.wait()
    for _ in range(per):
        with lock:
            counter.value += 1


def lock_contended(n):
    lock = _ctx.Lock()
    counter = _ctx.RawValue("q", 0)
    go = _ctx.Event()
    per = max(1, n // 2)
    child = _ctx.Process(target=_hammer, args=(lock, counter, go, per))
    child.start()
    t0 = time.perf_counter()
    go.set()
    for _ in range(per):
        with lock:
            counter.value += 1
    child.join()
    elapsed = time.perf_counter() - t0
    if counter.value != 2 * per:
        raise RuntimeError("contended counter wrong")
    return elapsed


WORKLOADS = {"lock_uncontended": lock_uncontended, "lock_contended": lock_contended}


if __name__ == "__main__":
    bench_common.main(WORKLOADS.get, list(WORKLOADS), 10000)
