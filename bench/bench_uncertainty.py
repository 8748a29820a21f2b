"""Cost of the uncertainty analyses of `twinlab.uncertainty` on the shipped virtual clinic (data/virtual_clinic:
8 providers, 13 weeks).

- Sobol indices of the four key outcomes, 12 parameters (the first 12 of the parameter space; the cost does not
  depend on which), base sample N = 1,024: 1,024 x 14 = 14,336 simulations of the clinic's 13 weeks.
- The data-value table for 4 options (the four data requests, 13 weeks each) for EHR-Time8, from the prior,
  with 1,000 parameter sets (regression approximation of the preposterior analysis); and, for information,
  the whole table (4 requests x 3 lengths x 4 key outcomes).
- For information: `propagate` with 200 parameter sets x 4 replicates, and the cost of one imagined dataset of the
  full preposterior procedure (`data_value_full` with 2 imagined datasets: each writes a 13-week virtual clinic,
  loads its audit log, calibrates and propagates), which the regression approximation saves per dataset and option.

Wall-clock figures depend on what else runs on the machine: the load average is printed before each run."""
import os
import time

from twinlab.clinic import Clinic
from twinlab.core import shipped_path
from twinlab.params import default_space
from twinlab.preposterior import data_value_full
from twinlab.uncertainty import KEY_OUTCOMES, REQUESTS, data_value, propagate, sobol

TARGET_SOBOL_S = 60
TARGET_DATA_VALUE_S = 300
SOBOL_PARAMS, SOBOL_N = 12, 1024

clinic = Clinic.from_dir(shipped_path("virtual_clinic"))
space = default_space(clinic)
sobol(space, clinic, n=8, params=space.names[:2], days=7, seed=0)  # compile / load the kernel, import SALib


def timed(f):
    "Wall seconds, CPU seconds (all threads) and load average before running f()"
    load, t0, c0 = os.getloadavg()[0], time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - t0, time.process_time() - c0, load


rows = [
    (f"sobol: {SOBOL_PARAMS} parameters, N = {SOBOL_N} ({SOBOL_N * (SOBOL_PARAMS + 2):,} runs x 8 providers x 91 days)",
     timed(lambda: sobol(space, clinic, n=SOBOL_N, params=space.names[:SOBOL_PARAMS], seed=1)), TARGET_SOBOL_S),
    ("data value: 4 requests x 13 weeks, ehr_time8, 1,000 parameter sets",
     timed(lambda: data_value(space, clinic, outputs=["ehr_time8"], requests=list(REQUESTS), weeks=[13], n=1000, seed=2)), TARGET_DATA_VALUE_S),
    ("data value: 4 requests x (4, 13, 52) weeks x 4 key outcomes",
     timed(lambda: data_value(space, clinic, outputs=KEY_OUTCOMES, n=1000, seed=2)), None),
    ("propagate: 200 parameter sets x 4 replicates",
     timed(lambda: propagate(space, clinic, n=200, seed=3)), None),
    ("full procedure, 2 imagined datasets (audit log, 13 weeks; ehr_time8)",
     timed(lambda: data_value_full(space, clinic, "audit_log", 13, datasets=2, seed=4)), None),
]
print(f"uncertainty analyses on {clinic.name} ({len(clinic.providers)} providers, {clinic.start}..{clinic.end}), {os.cpu_count()} CPUs")
for name, (wall, cpu, load), target in rows:
    verdict = "" if target is None else (f"target <= {target} s  " + ("ok" if wall <= target else "MISSED"))
    print(f"  {name:<100} {wall:7.1f} s wall ({cpu:6.1f} CPU-s, load before {load:.1f})  {verdict}".rstrip())
