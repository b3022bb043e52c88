#!/usr/bin/env python3
"""Python generators on the workloads of bench/coop_bench.cpp.

Two ways to run it (bench_common.py): with --serve, the harness's co-process, answering
"<workload> <n>" with the seconds n operations took; without, stand-alone, rates printed.

switch: the seed's TaskScheduler (seed 001, 使用生成器代替线程), verbatim — a deque of generator
tasks, next(task) and append until StopIteration — over TASKS tasks that each count n/TASKS
steps; one operation is one next(task). The tasks are created before the clock starts.

generator: n ints pulled from a generator function by a for loop and summed (the sum checked).
"""
import os
import sys
import time
from collections import deque

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (found through the line above)

perf_counter = time.perf_counter

TASKS = 10  # kTasks in coop_bench.cpp


class TaskScheduler:
    def __init__(self):
        self._task_queue = deque()

    def new_task(self, task):
        self._task_queue.append(task)

    def run(self):
        while self._task_queue:
            task = self._task_queue.popleft()
            try:
                next(task)
                self._task_queue.append(task)
            except StopIteration:
                pass


def counting_task(steps, counters, k):
    for _ in range(steps):
        counters[k] += 1
        yield


def switch(n):
    counters = [0] * TASKS
    sched = TaskScheduler()
    for k in range(TASKS):
        sched.new_task(counting_task(n // TASKS + (1 if k < n % TASKS else 0), counters, k))
    t0 = perf_counter()
    sched.run()
    elapsed = perf_counter() - t0
    if sum(counters) != n:
        raise RuntimeError("wrong result: a task step was lost or repeated")
    return elapsed


def count_to(n):
    for i in range(n):
        yield i & 1023


def generator(n):
    g = count_to(n)
    t0 = perf_counter()
    total = 0
    for x in g:
        total += x
    elapsed = perf_counter() - t0
    full, rest = divmod(n, 1024)
    if total != full * (1023 * 1024 // 2) + rest * (rest - 1) // 2:
        raise RuntimeError("wrong result: the sum of the generated values")
    return elapsed


WORKLOADS = {"switch": switch, "generator": generator}


if __name__ == "__main__":
    bench_common.main(WORKLOADS.get, list(WORKLOADS), 10000)
