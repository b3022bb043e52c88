#!/usr/bin/env python3
"""CPython's multiprocessing on the workloads of bench/mp_bench.cpp.

Two ways to run it (bench_common.py): with --serve, the harness's co-process, answering
"<workload> <n>" with the seconds n operations took; without, stand-alone, rates printed.

Every helper process is started with the "fork" context (as the C++ side forks its helpers), and
before the clock starts; it is joined (bounded) after the clock stops. A helper that dies makes
the parent's recv raise EOFError (the parent closes its copy of the helper's end, the helper its
copy of the parent's), and a helper that stops answering is killed after TIMEOUT seconds, so a
failure never hangs a sample.

pingpong         n round trips of an int through multiprocessing.Pipe() (duplex, a socketpair):
                 the parent sends i, a forked child receives it and sends it back, the parent
                 checks it.
bandwidth        n messages of 1 MiB, parent -> child, Connection.send_bytes / recv_bytes; the
                 child reports the count and bytes it received once the parent closes its end.
                 Timed from the first send to that report.
start-fork       n times: ctx = multiprocessing.get_context(m); p = ctx.Process(target=f);
start-spawn      p.start(); p.join() with f doing nothing, exitcode checked.
start-forkserver
queue            multiprocessing.Queue(): the parent puts n ints (i & 1023) and a None, a forked
                 child gets until the None and reports count and sum through a Pipe. Timed from
                 the first put to that report.
"""
import multiprocessing
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (found through the line above)

perf_counter = time.perf_counter
MIB = 1 << 20
TIMEOUT = 60  # seconds: a helper that does not answer in this long fails the sample

_fork = multiprocessing.get_context("fork")


def _watchdog(p):
    """Kills helper p unless cancel() is called on the result within TIMEOUT seconds: the
    parent's blocked send or recv then ends (BrokenPipeError, EOFError) instead of hanging."""
    timer = threading.Timer(TIMEOUT, p.kill)
    timer.daemon = True
    timer.start()
    return timer


def _finish(p):
    p.join(TIMEOUT)
    if p.exitcode is None:
        p.kill()
        p.join()
        raise RuntimeError("timed out: the helper process did not exit")
    if p.exitcode != 0:
        raise RuntimeError(f"the helper process failed (exitcode {p.exitcode})")


# ---- pingpong ----------------------------------------------------------------------------------
def _echo(conn, other):
    other.close()  # the parent's end, inherited through fork: EOF needs every copy closed
    recv, send = conn.recv, conn.send
    try:
        while True:
            send(recv())
    except EOFError:
        pass


def pingpong(n):
    a, b = multiprocessing.Pipe()
    p = _fork.Process(target=_echo, args=(b, a))
    p.start()
    b.close()
    send, recv = a.send, a.recv
    dog = _watchdog(p)
    try:
        t0 = perf_counter()
        for i in range(n):
            send(i)
            if recv() != i:
                raise RuntimeError("wrong result: the echo differs")
        elapsed = perf_counter() - t0
    finally:
        dog.cancel()
        a.close()
        _finish(p)
    return elapsed


# ---- bandwidth ---------------------------------------------------------------------------------
def _sink(conn, other, report):
    other.close()  # the parent's end, inherited through fork
    count = total = 0
    recv_bytes = conn.recv_bytes
    try:
        while True:
            total += len(recv_bytes())
            count += 1
    except EOFError:
        pass
    report.send((count, total))


def bandwidth(n):
    a, b = multiprocessing.Pipe()
    report_r, report_w = multiprocessing.Pipe(False)
    p = _fork.Process(target=_sink, args=(b, a, report_w))
    p.start()
    b.close()
    report_w.close()
    msg = bytes(MIB)
    send_bytes = a.send_bytes
    dog = _watchdog(p)
    try:
        t0 = perf_counter()
        for _ in range(n):
            send_bytes(msg)
        a.close()
        if not report_r.poll(TIMEOUT):
            raise RuntimeError("timed out: no report from the receiver")
        count, total = report_r.recv()
        elapsed = perf_counter() - t0
    finally:
        dog.cancel()
        a.close()
        _finish(p)
    if count != n or total != n * MIB:
        raise RuntimeError(f"wrong result: {count} messages, {total} bytes received")
    return elapsed


# ---- process start + join ----------------------------------------------------------------------
def _nothing():
    pass


def _start_join(method):
    ctx = multiprocessing.get_context(method)

    def run(n):
        t0 = perf_counter()
        for _ in range(n):
            p = ctx.Process(target=_nothing)
            p.start()
            p.join(TIMEOUT)
            if p.exitcode != 0:
                if p.exitcode is None:
                    p.kill()
                    p.join()
                raise RuntimeError(f"the child failed (exitcode {p.exitcode})")
        return perf_counter() - t0

    return run


# ---- queue -------------------------------------------------------------------------------------
def _consume(q, report):
    count = total = 0
    get = q.get
    while True:
        x = get()
        if x is None:
            break
        count += 1
        total += x
    report.send((count, total))


def queue(n):
    q = multiprocessing.Queue()
    report_r, report_w = multiprocessing.Pipe(False)
    p = _fork.Process(target=_consume, args=(q, report_w))
    p.start()
    report_w.close()
    put = q.put
    dog = _watchdog(p)
    try:
        t0 = perf_counter()
        for i in range(n):
            put(i & 1023)
        put(None)
        if not report_r.poll(TIMEOUT):
            raise RuntimeError("timed out: no report from the consumer")
        count, total = report_r.recv()
        elapsed = perf_counter() - t0
    finally:
        dog.cancel()
        _finish(p)
        q.close()
        q.join_thread()
    full, rest = divmod(n, 1024)
    if count != n or total != full * (1023 * 1024 // 2) + rest * (rest - 1) // 2:
        raise RuntimeError(f"wrong result: {count} items received, sum {total}")
    return elapsed


WORKLOADS = {
    "pingpong": pingpong,
    "bandwidth": bandwidth,
    "start-fork": _start_join("fork"),
    "start-spawn": _start_join("spawn"),
    "start-forkserver": _start_join("forkserver"),
    "queue": queue,
}


if __name__ == "__main__":
    bench_common.main(WORKLOADS.get, list(WORKLOADS), 1)
