"""What the bench/python/*_bench.py scripts share: the harness's co-process loop, the stand-alone
runner and the command line.

A script defines its workloads (a function of n returning the seconds n operations took) and ends
with

    if __name__ == "__main__":
        bench_common.main(lookup, names, first_n)

where lookup(name) gives the workload called name (None: no such workload), names are the
workloads the stand-alone run samples, in order, and first_n is the n its calibration starts from.

  <script> --serve   the harness's co-process (bench/common/harness.hpp, class PythonWorker):
                     reads "<workload> <n>" lines on stdin and answers each with the seconds the
                     workload took for n (or "error ..."), so Python's samples interleave with the
                     C++ ones and its start-up is never timed. "hello 0" answers "ok <version>".
  <script>           stand-alone: a few samples of each workload, rates printed.
"""
import sys
import threading
import time


def _noop():
    pass


def time_threads(threads, go):
    """Starts threads that each wait on the Event go, then times from go.set() to the last join."""
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    go.set()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def serve(lookup):
    # Like the C++ harness: be a process that has had a second thread before measuring anything.
    t = threading.Thread(target=_noop)
    t.start()
    t.join()
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        name, n = parts[0], int(parts[1]) if len(parts) > 1 else 0
        fn = lookup(name)
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


def standalone(lookup, names, first_n, sample_s=0.15, rounds=5):
    for name in names:
        fn = lookup(name)
        n = first_n
        while True:  # calibrate
            t = fn(n)
            if t >= sample_s / 2:
                n = max(1, int(n * sample_s / t))
                break
            n *= max(2, min(100, int(sample_s / max(t, 1e-9))))
        rates = sorted(n / fn(n) for _ in range(rounds))
        r = rates[len(rates) // 2]
        print(f"{name:20s} {r / 1e3:10.1f} K/s  (median of {rounds})", flush=True)


def main(lookup, names, first_n):
    if "--serve" in sys.argv[1:]:
        serve(lookup)
    else:
        standalone(lookup, names, first_n)
