"""Throughput of `twinlab.model.simulate` against the SimPy oracle (tests/oracle.py, imported as `tests.oracle`), and its peak memory.

Workload of the model: 1,000 parameter sets drawn from the prior x 20 providers x 365 days (a 20-provider
clinic made of the example clinic's providers, repeated). The oracle simulates one parameter set at a time,
event by event, so it runs a smaller workload (the same clinic, 1 parameter set x 20 providers x 56 days),
measured in the same run. Peak memory is the process's peak resident set size (`resource.getrusage`
ru_maxrss), read after the model's run, before the oracle's: it includes the interpreter, the imported
libraries and the output dataset (15 variables x 7.3 M provider-days)."""
import dataclasses
import os
import resource
import sys
import time
from pathlib import Path

import pandas as pd

from twinlab.clinic import Clinic
from twinlab.model import simulate
from twinlab.params import default_space

from tests.oracle import simulate_oracle

TARGET_RATE = 1_500_000  # provider-days/s of simulate on 2 cores (issue 10; the first wave measured 1.9 M)
TARGET_RATIO = 250  # simulate's rate / the oracle's rate
TARGET_PEAK_GB = 4.0
DRAWS, PROVIDERS, DAYS = 1000, 20, 365
ORACLE_DAYS = 56
REPEATS = 3
THREAD_DRAWS = 200  # draws of the workers=1 vs workers=2 comparison


def clinic_of(n: int) -> Clinic:
    "The example clinic's providers repeated (E-1a, E-2a, ..., E-1b, ...) up to `n` providers"
    c = Clinic.example()
    copies = -(-n // len(c.providers))
    suffix = lambda df, s: df.assign(provider_id=df["provider_id"] + s)
    roster = pd.concat([suffix(c.roster, chr(97 + i)) for i in range(copies)], ignore_index=True).iloc[:n]
    templates = pd.concat([suffix(c.templates, chr(97 + i)) for i in range(copies)], ignore_index=True)
    templates = templates[templates["provider_id"].isin(roster["provider_id"])].reset_index(drop=True)
    return dataclasses.replace(c, name=f"{c.name} x{n} providers", roster=roster, templates=templates)


def timed(f):
    "Wall seconds of f() and its result"
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


clinic = clinic_of(PROVIDERS)
space = default_space(clinic)
theta = space.sample(DRAWS, seed=1)
simulate(clinic, theta.isel(draw=slice(0, 2)), days=7, seed=0)  # compile / load the kernel

load = os.getloadavg()[0]
seconds, cpu0 = [], time.process_time()
for _ in range(REPEATS):
    s, ds = timed(lambda: simulate(clinic, theta, days=DAYS, seed=2))
    seconds.append(s)
    del ds
cpu_per_run = (time.process_time() - cpu0) / REPEATS
peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
model_rate = DRAWS * PROVIDERS * DAYS / min(seconds)

sub = theta.isel(draw=slice(0, THREAD_DRAWS))
thread_rate = {w: THREAD_DRAWS * PROVIDERS * DAYS / min(timed(lambda: simulate(clinic, sub, days=DAYS, seed=2, workers=w))[0] for _ in range(2))
               for w in (1, 2)}

centre = space.centre()
simulate_oracle(clinic, centre, clinic.start, 2, seed=0)  # warm up imports
oracle_seconds, _ = timed(lambda: simulate_oracle(clinic, centre, clinic.start, ORACLE_DAYS, seed=3))
oracle_rate = PROVIDERS * ORACLE_DAYS / oracle_seconds
ratio = model_rate / oracle_rate

print(f"simulate: {DRAWS} draws x {PROVIDERS} providers x {DAYS} days on {os.cpu_count()} CPUs, best of {REPEATS} "
      f"({', '.join(f'{s:.2f}' for s in seconds)} s wall; {cpu_per_run:.2f} CPU-s per run); "
      f"load average before: {load:.1f} (other processes slow the wall-clock figures)")
rows = [("simulate provider-days/s", f"{model_rate:,.0f}", f">= {TARGET_RATE:,}", model_rate >= TARGET_RATE),
        ("simulate provider-days per CPU-second (all threads)", f"{DRAWS * PROVIDERS * DAYS / cpu_per_run:,.0f}", "", None),
        (f"oracle provider-days/s (1 x {PROVIDERS} x {ORACLE_DAYS}, {oracle_seconds:.2f} s)", f"{oracle_rate:,.0f}", "", None),
        (f"simulate, {THREAD_DRAWS} draws, workers=1 / workers=2", f"{thread_rate[1]:,.0f} / {thread_rate[2]:,.0f}", "", None),
        ("ratio simulate / oracle", f"{ratio:,.0f}x", f">= {TARGET_RATIO}x", ratio >= TARGET_RATIO),
        ("peak memory (ru_maxrss)", f"{peak_gb:.2f} GB", f"< {TARGET_PEAK_GB} GB", peak_gb < TARGET_PEAK_GB)]
for name, value, target, ok in rows:
    verdict = "" if ok is None else ("ok" if ok else "MISSED")
    print(f"  {name:<52} {value:>14}  target {target:<12} {verdict}".rstrip())
