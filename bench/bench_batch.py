"""Report batches: 8 small reports on 2 Dask workers against the same batch on 1 worker.

Each report is the shipped `clinic` template over 1 to 8 weeks of the example clinic; its work happens in
its own kernel process, so two workers should come close to halving the wall time on a machine with two
free cores. Target: 2 workers at least 1.6x as fast as 1. Timings are end to end (`run_batch`, cluster
start included), best of `REPEATS`, after one warm-up batch (first imports, matplotlib's font cache).
The machine's own speed-up for two CPU-bound processes is measured alongside: on a shared machine it
bounds what any batch can reach at that moment."""
import os
import subprocess
import sys
import tempfile
import time

from twinlab.reports import run_batch

SPEC = {"template": "clinic", "grid": {"weeks": [1, 2, 3, 4, 5, 6, 7, 8]}}
TARGET = 1.6
REPEATS = 3


def batch_seconds(workers: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        table = run_batch(SPEC, out, workers=workers, progress=False)
        seconds = time.perf_counter() - start
    if not (table.status == "ok").all(): raise RuntimeError(f"the benchmark batch failed:\n{table.to_string()}")
    return seconds


def machine_speedup() -> float:
    "How much sooner two CPU-bound processes finish side by side than one after the other, on this machine now"
    work = [sys.executable, "-c", "sum(i * i for i in range(8_000_000))"]
    start = time.perf_counter()
    for _ in range(2): subprocess.run(work, check=True)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    for p in [subprocess.Popen(work) for _ in range(2)]: p.wait()
    return serial / (time.perf_counter() - start)


if __name__ == "__main__":
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}, "
          f"machine's own 2-process speed-up: {machine_speedup():.2f}x")
    batch_seconds(2)
    times = {w: [] for w in (1, 2)}
    for _ in range(REPEATS):
        for w in times: times[w].append(batch_seconds(w))
    one, two = min(times[1]), min(times[2])
    print(f"8 reports, 1 worker : {one:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times[1])})")
    print(f"8 reports, 2 workers: {two:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times[2])})")
    print(f"speed-up {one / two:.2f}x (target >= {TARGET}x): {'met' if one / two >= TARGET else 'NOT MET'}; "
          f"load average after: {os.getloadavg()[0]:.2f}, machine's own 2-process speed-up: {machine_speedup():.2f}x")
