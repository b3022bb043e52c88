#!/usr/bin/env python3
"""Python's concurrent.futures on the workloads of bench/futures_bench.cpp.

Two ways to run it (bench_common.py): with --serve, the harness's co-process, answering
"<workload> <n>" with the seconds n tasks took; without, stand-alone, rates printed.

submit_result: n empty tasks (task i returns i) submitted to a ThreadPoolExecutor(2) and every
result taken, in batches of BATCH exactly as the C++ harness does:
    fs = [pool.submit(task, i) for i in batch]; for f in fs: f.result()
The pool is created and warmed (a first small batch starts its threads) before the clock starts
and shut down after it stops. Each result is checked against its task's index, and the sum.
"""
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (found through the line above)

perf_counter = time.perf_counter

BATCH = 1000  # kBatch in futures_bench.cpp
WARM = 64     # kWarm
WORKERS = 2


def task(i):
    return i


def run_batch(submit, base, b):
    fs = [submit(task, i) for i in range(base, base + b)]
    total = 0
    for i, f in enumerate(fs, base):
        r = f.result()
        if r != i:
            raise RuntimeError(f"wrong result: task {i} returned {r}")
        total += r
    return total


def submit_result(n):
    n = max(1, n)
    with ThreadPoolExecutor(WORKERS) as pool:
        submit = pool.submit
        run_batch(submit, 0, WARM)  # starts the pool's threads
        total = 0
        t0 = perf_counter()
        for base in range(0, n, BATCH):
            total += run_batch(submit, base, min(BATCH, n - base))
        elapsed = perf_counter() - t0
    if total != n * (n - 1) // 2:
        raise RuntimeError("wrong sum of the results")
    return elapsed


WORKLOADS = {"submit_result": submit_result}


if __name__ == "__main__":
    bench_common.main(WORKLOADS.get, list(WORKLOADS), 1000)
