"""End-to-end calibration of the shipped virtual clinic (data/virtual_clinic, tier 3: 8 providers x 13 weeks).

Runs `twinlab.cli.calibrate_dir` in a fresh Python process, as `twinlab calibrate example --out ...`
would: importing twinlab, loading and checking every table, fitting the sub-models, the pilot simulations,
the SMC-ABC rounds, the posterior predictive checks and writing the posterior. Target: at most 60 s on 2 cores.
The machine may be shared: the load average before the run is printed with the figure."""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 60.0
ROOT = Path(__file__).resolve().parents[1]
SEED = 20260105

code = """
import json, sys, time
t0 = time.perf_counter()
from twinlab.cli import calibrate_dir
import twinlab.calibrate  # imported by calibrate_dir on first use; timed here as part of the start-up
t1 = time.perf_counter()
result = calibrate_dir(sys.argv[1], sys.argv[2], seed=int(sys.argv[3]))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "calibrate_s": t2 - t1, "simulations": result["simulations"], "converged": result["converged"],
                  "ess": result["effective_sample_size"], "inside_90": result["summaries_inside_90"]}))
"""

load = os.getloadavg()[0]
with tempfile.TemporaryDirectory() as d:
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", code, str(ROOT / "data" / "virtual_clinic"), str(Path(d) / "posterior.nc"), str(SEED)],
                         capture_output=True, text=True, check=True, cwd=d)
    wall = time.perf_counter() - t0
cpu = os.times()
r = json.loads(run.stdout.strip().splitlines()[-1])
print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} before the run (other processes share the CPUs)")
print(f"calibrate data/virtual_clinic end to end (tier 3, seed {SEED}): {wall:.1f} s wall "
      f"(start-up and imports {r['import_s']:.1f} s, load + calibrate + checks + write {r['calibrate_s']:.1f} s; "
      f"child CPU {cpu.children_user + cpu.children_system:.1f} s)")
print(f"  {r['simulations']:,} ABC simulations (plus the pilot and checks), converged: {r['converged']}, ESS {r['ess']}, "
      f"summaries inside their 90% predictive interval: {r['inside_90']:.0%}")
print(f"target: <= {TARGET_SECONDS:.0f} s -> {'met' if wall <= TARGET_SECONDS else 'NOT met'}")
