#!/usr/bin/env python3
"""Python's sched module on the workload of bench/sched_bench.cpp.

Two ways to run it (bench_common.py): with --serve, the harness's co-process, answering
"<workload> <n>" with the seconds n events took; without, stand-alone, rates printed.

enter_run: n due events (n a multiple of BATCH: the C++ side rounds it) in batches of BATCH =
1,000,000 on one sched.scheduler(): enter(0, 1, action) BATCH times, then run(); each action
counts itself, and the count is checked. Timed from the first enter() to the end of the last run().
"""
import os
import sched
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (found through the line above)

BATCH = 1_000_000  # kBatch in sched_bench.cpp


def enter_run(n):
    batches = max(1, n // BATCH)
    s = sched.scheduler()
    count = 0

    def action():
        nonlocal count
        count += 1

    enter = s.enter
    t0 = time.perf_counter()
    for _ in range(batches):
        for _ in range(BATCH):
            enter(0, 1, action)
        s.run()
    elapsed = time.perf_counter() - t0
    if count != batches * BATCH:
        raise RuntimeError(f"ran {count} actions of {batches * BATCH}")
    return elapsed


WORKLOADS = {"enter_run": enter_run}


if __name__ == "__main__":
    bench_common.main(WORKLOADS.get, list(WORKLOADS), BATCH)
