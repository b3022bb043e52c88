#!/usr/bin/env python3
"""Python's threading module on the workloads of bench/threading_bench.cpp.

Two ways to run it:
  threading_bench.py --serve   the harness's co-process: reads "<workload> <n>" lines on stdin and
                               answers each with the seconds that n operations took (or
                               "error ..."), so Python's samples interleave with the C++ ones and
                               its start-up is never timed. "hello 0" answers "ok <version>".
  threading_bench.py           stand-alone: a few samples of each workload, rates printed.

n counts the same operations as in the C++ harness: round trips, increments, acquire+release
pairs, threads, items.
"""
import collections
import sys
import threading
import time

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

    ts = [threading.Thread(target=worker) for _ in range(2)]
    for t in ts:
        t.start()
    t0 = perf_counter()
    go.set()
    for t in ts:
        t.join()
    elapsed = perf_counter() - t0
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


def serve():
    # Like the C++ harness: be a process that has had a second thread before measuring anything.
    t = threading.Thread(target=_noop)
    t.start()
    t.join()
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        name, n = parts[0], int(parts[1]) if len(parts) > 1 else 0
        if name == "hello":
            v = sys.version_info
            answer = f"ok {v.major}.{v.minor}.{v.micro}"
        elif name in WORKLOADS:
            try:
                answer = repr(WORKLOADS[name](n))
            except Exception as e:  # report, keep serving
                answer = f"error {type(e).__name__}: {e}"
        else:
            answer = f"error unknown workload {name}"
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


def standalone(sample_s=0.15, rounds=5):
    for name, fn in WORKLOADS.items():
        n = 100
        while True:  # calibrate
            t = fn(n)
            if t >= sample_s / 2:
                n = max(1, int(n * sample_s / t))
                break
            n *= max(2, min(100, int(sample_s / max(t, 1e-9))))
        rates = sorted(n / fn(n) for _ in range(rounds))
        r = rates[len(rates) // 2]
        print(f"{name:20s} {r / 1e3:10.1f} K/s  (median of {rounds})", flush=True)


if __name__ == "__main__":
    if "--serve" in sys.argv[1:]:
        serve()
    else:
        standalone()
