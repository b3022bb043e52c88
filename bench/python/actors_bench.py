#!/usr/bin/env python3
"""The seed's Python Actor on the workloads of bench/actors_bench.cpp.

Two ways to run it (bench_common.py): with --serve, the harness's co-process, answering
"<workload> <n>" with the seconds n operations took; without, stand-alone, rates printed.

The actor is the seed's (seed 001, 定义 Actor 模式任务), verbatim: a queue.Queue mailbox read by one
daemon thread, close() sending the ActorExit class itself. Only run() is ours, in subclasses.

one-way: the main thread sends n ints to one actor, which counts them and sets an Event when it
has n. Timed from the first send to that Event; then close() and join() (not timed) and the count
checked against n.

ping-pong: two actors bounce an int that counts down from n: each one that receives m > 0 sends
m - 1 to the other, the one that receives 0 sets an Event. One operation is one message between
the actors (n of them; the main thread's first send starts it). Timed from that first send to
the Event; the messages each actor received are checked (n + 1 in all).
"""
import os
import sys
import time
from queue import Queue
from threading import Thread, Event

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (found through the line above)

perf_counter = time.perf_counter


# ---- the seed's Actor, verbatim ----------------------------------------------------------------
class ActorExit(Exception):
    pass


class Actor:

    def __init__(self):
        self._mailbox = Queue()

    def send(self, msg):
        self._mailbox.put(msg)

    def recv(self):
        msg = self._mailbox.get()
        if msg is ActorExit:
            raise ActorExit()
        return msg

    def close(self):
        self.send(ActorExit)

    def start(self):
        self._terminated = Event()
        t = Thread(target=self._bootstrap)
        t.daemon = True
        t.start()

    def _bootstrap(self):
        try:
            self.run()
        except ActorExit:
            pass
        finally:
            self._terminated.set()

    def join(self):
        self._terminated.wait()

    def run(self):
        while True:
            msg = self.recv()
# ------------------------------------------------------------------------------------------------


class Counter(Actor):
    """Counts the messages it receives; sets done when it has `expected` of them."""

    def __init__(self, expected):
        super().__init__()
        self.expected = expected
        self.count = 0
        self.done = Event()

    def run(self):
        while True:
            self.recv()
            self.count += 1
            if self.count == self.expected:
                self.done.set()


def one_way(n):
    c = Counter(n)
    c.start()
    send = c.send
    t0 = perf_counter()
    for i in range(n):
        send(i)
    if not c.done.wait(60):
        raise RuntimeError("timed out: the receiver did not get all the messages")
    elapsed = perf_counter() - t0
    c.close()
    c.join()
    if c.count != n:
        raise RuntimeError(f"wrong result: {c.count} messages received, {n} sent")
    return elapsed


class Bouncer(Actor):
    """Sends m - 1 to its peer for every m > 0 it receives; sets done on 0."""

    def __init__(self, done):
        super().__init__()
        self.peer = None
        self.count = 0
        self.done = done

    def run(self):
        while True:
            m = self.recv()
            self.count += 1
            if m == 0:
                self.done.set()
            else:
                self.peer.send(m - 1)


def ping_pong(n):
    done = Event()
    a, b = Bouncer(done), Bouncer(done)
    a.peer, b.peer = b, a
    a.start()
    b.start()
    t0 = perf_counter()
    a.send(n)
    if not done.wait(60):
        raise RuntimeError("timed out: the ball was lost")
    elapsed = perf_counter() - t0
    a.close()
    b.close()
    a.join()
    b.join()
    if a.count + b.count != n + 1:
        raise RuntimeError(f"wrong result: {a.count + b.count} messages received, {n + 1} sent")
    return elapsed


WORKLOADS = {"one-way": one_way, "ping-pong": ping_pong}


if __name__ == "__main__":
    bench_common.main(WORKLOADS.get, list(WORKLOADS), 1000)
