#!/usr/bin/env python3
"""Python's concurrent.futures on the workloads of bench/futures_bench.cpp.

Two ways to run it:
  futures_bench.py --serve   the harness's co-process: reads "<workload> <n>" lines on stdin and
                             answers each with the seconds that n tasks took (or "error ..."),
                             so Python's samples interleave with the C++ ones and its start-up is
                             never timed. "hello 0" answers "ok <version>".
  futures_bench.py           stand-alone: a few samples of each workload, rates printed.

submit_result: n empty tasks (task i returns i) submitted to a ThreadPoolExecutor(2) and every
result taken, in batches of BATCH exactly as the C++ harness does:
    fs = [pool.submit(task, i) for i in batch]; for f in fs: f.result()
The pool is created and warmed (a first small batch starts its threads) before the clock starts
and shut down after it stops. Each result is checked against its task's index, and the sum.
"""
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

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


def _noop():
    pass


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
        fn = WORKLOADS.get(name)
        if name == "hello":
            v = sys.version_info
            answer = f"ok {v.major}.{v.minor}.{v.micro}"
        elif fn is not None:
            try:
                answer = repr(fn(n))
            except Exception as e:  # report, keep serving
                answer = f"error {type(e).__name__}: {e}"
        else:
            answer = f"error unknown workload {name}"
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


def standalone(sample_s=0.15, rounds=5):
    for name, fn in WORKLOADS.items():
        n = 1000
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
