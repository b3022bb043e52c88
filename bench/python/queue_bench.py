#!/usr/bin/env python3
"""Python's queue module on the workloads of bench/queue_bench.cpp.

Two ways to run it (bench_common.py): with --serve, the harness's co-process, answering
"<workload> <n>" with the seconds moving n items took; without, stand-alone, rates printed.

A workload is "<kind>_<P>p<C>c": kind is Queue (queue.Queue()), Queue1024 (queue.Queue(1024)) or
SimpleQueue (queue.SimpleQueue()); P producer threads each put n/P distinct ints, C consumer
threads each get their share of the n items, exactly as the C++ harness does. Timed from the start
signal to the last join; the consumers' count and sum are checked.
"""
import os
import queue
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (found through the line above)

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
    elapsed = bench_common.time_threads(threads, go)
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


STANDALONE = ["Queue_1p1c", "SimpleQueue_1p1c", "Queue_2p2c", "SimpleQueue_2p2c",
              "Queue1024_1p1c", "Queue1024_2p2c"]


if __name__ == "__main__":
    bench_common.main(workload, STANDALONE, 1000)
