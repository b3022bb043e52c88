#!/usr/bin/env python3
"""Python's threading module on the workloads of bench/threading_bench.cpp.

Two ways to run it (bench_common.py): with --serve, the harness's co-process, answering
"<workload> <n>" with the seconds n operations took; without, stand-alone, rates printed.

n counts the same operations as in the C++ harness: round trips, increments, acquire+release
pairs, threads, items.
"""
import collections
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (found through the line above)

perf_counter = time.perf_counter


def pingpong_event(n):
    """Two threads hand the turn back and forth through a pair of Events."""
    ping, pong = threading.Event(), threading.Event()
    ready = threading.Event()

    def partner():
        ready.set()
        for _ in range(n):
            ping.wait()
            ping.clear()
            pong.set()

    t = threading.Thread(target=partner)
    t.start()
    ready.wait()
    t0 = perf_counter()
    for _ in range(n):
        ping.set()
        pong.wait()
        pong.clear()
    elapsed = perf_counter() - t0
    t.join()
    return elapsed


def lock_contended(n):
    """2 threads x n/2 increments of one counter under a Lock."""
    lock = threading.Lock()
    counter = [0]
    per = n // 2
    go = threading.Event()

    def worker():
        go.wait()
        for _ in range(per):
            with lock:
                counter[0] += 1

    elapsed = bench_common.time_threads([threading.Thread(target=worker) for _ in range(2)], go)
    if counter[0] != 2 * per:
        raise RuntimeError("contended counter wrong")
    return elapsed


def _uncontended(lock, n):
    counter = 0
    t0 = perf_counter()
    for _ in range(n):
        with lock:
            counter += 1
    elapsed = perf_counter() - t0
    if counter != n:
        raise RuntimeError("uncontended counter wrong")
    return elapsed


def lock_uncontended(n):
    return _uncontended(threading.Lock(), n)


def rlock_uncontended(n):
    return _uncontended(threading.RLock(), n)


def _noop():
    pass


def thread_start(n):
    """Start and join n threads with an empty target."""
    t0 = perf_counter()
    for _ in range(n):
        t = threading.Thread(target=_noop)
        t.start()
        t.join()
    return perf_counter() - t0


def prodcons_condition(n, capacity=8):
    """1 producer -> 1 consumer through a buffer of `capacity` items, one Lock, two Conditions."""
    lock = threading.Lock()
    not_full = threading.Condition(lock)
    not_empty = threading.Condition(lock)
    buf = collections.deque()
    ready = threading.Event()

    def producer():
        ready.set()
        for i in range(n):
            with lock:
                while len(buf) == capacity:
                    not_full.wait()
                buf.append(i)
                not_empty.notify()

    t = threading.Thread(target=producer)
    t.start()
    ready.wait()
    total = 0
    t0 = perf_counter()
    for _ in range(n):
        with lock:
            while not buf:
                not_empty.wait()
            total += buf.popleft()
            not_full.notify()
    elapsed = perf_counter() - t0
    t.join()
    if total != n * (n - 1) // 2:
        raise RuntimeError("items lost")
    return elapsed


WORKLOADS = {
    "pingpong_event": pingpong_event,
    "lock_contended": lock_contended,
    "lock_uncontended": lock_uncontended,
    "rlock_uncontended": rlock_uncontended,
    "thread_start": thread_start,
    "prodcons_condition": prodcons_condition,
}


if __name__ == "__main__":
    bench_common.main(WORKLOADS.get, list(WORKLOADS), 100)
