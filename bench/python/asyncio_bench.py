#!/usr/bin/env python3
"""Python's asyncio (and uvloop) on the workloads of bench/asyncio_bench.cpp.

Three ways to run it:
  --serve                 the harness's co-process (bench_common.py), answering "<workload> <n>"
                          with the seconds n operations took
  --echo-server KIND      a TCP echo server for the echo workload, KIND asyncio or uvloop: prints
                          "port <port> <python version> <loop>" once it listens on 127.0.0.1, then
                          serves until its stdin closes (the benchmark holds the other end)
  (nothing)               stand-alone: a few samples of each co-process workload, rates printed

churn: n tasks (n a multiple of CHURN_BATCH: the C++ side rounds it) in batches of CHURN_BATCH =
1,000,000: asyncio.create_task(value(i)) for each, then await asyncio.gather(*tasks); the sum of
the results is checked. Timed inside the main coroutine of asyncio.run(), from the first
create_task to the end of the last gather.

timeouts: batches of STORM = 100,000 tasks gathered at once, task i doing
asyncio.wait_for(work(d), timeout): 9 in 10 with d = 0 (work yields once, sleep(0), and returns
1) and a 10 s timeout, so they finish long before it; every tenth with d = 3600 s and a 1 ms
timeout, so it times out (TimeoutError caught, 0 returned). The results are checked.

pingpong: a loop runs run_forever() in a thread; the main thread, n times,
loop.call_soon_threadsafe(q.put, i) then q.get() (q a queue.SimpleQueue), the value checked.
Timed from the first call to the last get().
"""
import asyncio
import os
import queue
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (found through the line above)

CHURN_BATCH = 1_000_000  # kChurnBatch in asyncio_bench.cpp
STORM = 100_000          # kStorm in asyncio_bench.cpp


# ---- churn ----------------------------------------------------------------------------------------

async def _value(i):
    return i


async def _churn_main(n):
    batches = max(1, n // CHURN_BATCH)
    create_task = asyncio.create_task
    total = 0
    t0 = time.perf_counter()
    for _ in range(batches):
        tasks = [create_task(_value(i)) for i in range(CHURN_BATCH)]
        results = await asyncio.gather(*tasks)
        total += sum(results)
        del tasks, results
    elapsed = time.perf_counter() - t0
    if total != batches * (CHURN_BATCH * (CHURN_BATCH - 1) // 2):
        raise RuntimeError("wrong sum of results")
    return elapsed


def churn(n):
    return asyncio.run(_churn_main(n))


# ---- timeouts -------------------------------------------------------------------------------------

async def _work(d):
    await asyncio.sleep(d)
    return 1


async def _guarded(i):
    if i % 10 == 0:
        d, timeout = 3600.0, 0.001  # times out
    else:
        d, timeout = 0.0, 10.0      # finishes first
    try:
        return await asyncio.wait_for(_work(d), timeout)
    except asyncio.TimeoutError:
        return 0


async def _timeouts_main(n):
    batches = max(1, n // STORM)
    t0 = time.perf_counter()
    for _ in range(batches):
        results = await asyncio.gather(*[_guarded(i) for i in range(STORM)])
        if sum(results) != STORM - STORM // 10:
            raise RuntimeError("wrong number of timeouts")
    return time.perf_counter() - t0


def timeouts(n):
    return asyncio.run(_timeouts_main(n))


# ---- call_soon_threadsafe ping-pong ---------------------------------------------------------------

def pingpong(n):
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def loop_thread():
        asyncio.set_event_loop(loop)
        loop.call_soon(started.set)
        loop.run_forever()

    th = threading.Thread(target=loop_thread)
    th.start()
    started.wait()
    q = queue.SimpleQueue()
    put, get, call = q.put, q.get, loop.call_soon_threadsafe
    t0 = time.perf_counter()
    for i in range(n):
        call(put, i)
        if get() != i:
            raise RuntimeError("wrong value")
    elapsed = time.perf_counter() - t0
    call(loop.stop)
    th.join()
    loop.close()
    return elapsed


# ---- echo server ----------------------------------------------------------------------------------

async def _echo(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(line)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def echo_server(kind):
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError as e:
            print(f"error {e}", flush=True)
            return 1
        loop = uvloop.new_event_loop()
        loop_name = f"uvloop {uvloop.__version__}"
    elif kind == "asyncio":
        loop = asyncio.new_event_loop()
        loop_name = "asyncio"
    else:
        print(f"error unknown server kind {kind}", flush=True)
        return 1
    asyncio.set_event_loop(loop)

    def quiet_resets(loop, context):
        # A client that closes its connections while a reply is in flight resets them: expected
        # at the end of every measurement, not worth a traceback.
        if not isinstance(context.get("exception"), ConnectionError):
            loop.default_exception_handler(context)

    loop.set_exception_handler(quiet_resets)
    done = loop.create_future()

    def on_stdin():
        if not os.read(0, 4096) and not done.done():
            done.set_result(None)

    async def main():
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        v = sys.version_info
        print(f"port {port} {v.major}.{v.minor}.{v.micro} {loop_name}", flush=True)
        loop.add_reader(0, on_stdin)
        await done
        server.close()

    loop.run_until_complete(main())
    loop.close()
    return 0


WORKLOADS = {"churn": churn, "timeouts": timeouts, "pingpong": pingpong}


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--echo-server":
        sys.exit(echo_server(sys.argv[2]))
    bench_common.main(WORKLOADS.get, list(WORKLOADS), 1000)
