#!/usr/bin/env python3
"""Python's queue module on the workloads of bench/queue_bench.cpp.

Two ways to run it:
  queue_bench.py --serve   the harness's co-process: reads "<workload> <n>" lines on stdin and
                           answers each with the seconds that moving n items took (or
                           "error ..."), so Python's samples interleave with the C++ ones and its
                           start-up is never timed. "hello 0" answers "ok <version>".
  queue_bench.py           stand-alone: a few samples of each workload, rates printed.

A workload is "<kind>_<P>p<C>c": kind is Queue (queue.Queue()), Queue1024 (queue.Queue(1024)) or
SimpleQueue (queue.SimpleQueue()); P producer threads each put n/P distinct ints, C consumer
threads each get their share of the n items, exactly as the C++ harness does. Timed from the start
signal to the last join; the consumers' count and sum are checked.
"""
import queue
import sys
import threading
import time

perf_counter = time.perf_counter

KINDS = {
    "Queue": queue.Queue,
    "Queue1024": lambda: queue.Queue(1024),
    "SimpleQueue": queue.SimpleQueue,
}


def move_items(make_queue, n, producers, consumers):
    q = make_queue()
    per = max(1, n // producers)
    n = per * producers
    go = threading.Event()
    got = [None] * consumers

    def producer(base):
        put = q.put
        go.wait()
        for i in range(base, base + per):
            put(i)

    def consumer(c, share):
        get = q.get
        total = 0
        go.wait()
        for _ in range(share):
            total += get()
        got[c] = (share, total)

    threads = [threading.Thread(target=producer, args=(p * per,)) for p in range(producers)]
    threads += [
        threading.Thread(target=consumer, args=(c, n // consumers + (1 if c < n % consumers else 0)))
        for c in range(consumers)
    ]
    for t in threads:
        t.start()
    t0 = perf_counter()
    go.set()
    for t in threads:
        t.join()
    elapsed = perf_counter() - t0
    if any(g is None for g in got):
        raise RuntimeError("a consumer failed")
    if sum(g[0] for g in got) != n or sum(g[1] for g in got) != n * (n - 1) // 2:
        raise RuntimeError("items lost or duplicated")
    if not q.empty():
        raise RuntimeError("items left in the queue")
    return elapsed


def workload(name):
    """'Queue1024_2p2c' -> a function of n, or None."""
    kind, _, shape = name.partition("_")
    if kind not in KINDS or len(shape) < 4 or not shape.endswith("c") or "p" not in shape:
        return None
    p, _, c = shape[:-1].partition("p")
    if not (p.isdigit() and c.isdigit()) or int(p) < 1 or int(c) < 1:
        return None
    producers, consumers = int(p), int(c)
    return lambda n: move_items(KINDS[kind], n, producers, consumers)


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
        fn = workload(name)
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
    for name in ["Queue_1p1c", "SimpleQueue_1p1c", "Queue_2p2c", "SimpleQueue_2p2c",
                 "Queue1024_1p1c", "Queue1024_2p2c"]:
        fn = workload(name)
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
