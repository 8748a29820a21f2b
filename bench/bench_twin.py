"""The twin kept in step with a clinic (`twinlab.twin`), replayed from the command line on clinics from the outside
generator (tests/outside_clinic.py, which shares no code with twinlab):

- 26-week, 8-provider clinics: one where patient messages rise by 50% for every provider from week 18, and three
  with no change. Each is replayed with `twinlab twin init` on the first 8 weeks and 18 x `twinlab twin update`, one
  week at a time; `twinlab.twin.replay_metrics` reads the monitor table. Targets: coverage of the one-week-ahead 90%
  intervals 85-95% before and after the change, the change flagged within 14 days, false alarms <= 5% per
  provider-quarter. The three no-change clinics give 3 x 8 providers x 18 weeks = 33 provider-quarters, pooled: a
  rate of 5% is about one or two alarms among them, so even this measures it only roughly (the exact binomial 95%
  interval is printed).
- Cost: one weekly update against a fresh calibration (`twinlab twin init`) on the same data (13 weeks of the
  no-change clinic, 8 providers); target: the update costs <= 20% of the calibration. Both run as the command line
  runs them (a new process each, loading the export).

Wall-clock figures depend on what else runs on the machine: the load average is printed with them."""
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.outside_clinic import outside_clinic
from scipy.stats import binomtest

from twinlab.twin import load_state, replay_metrics

TWINLAB = Path(sys.executable).with_name("twinlab")
START, DAYS, INIT_UNTIL, LAST = "2026-01-05", 182, "2026-03-01", "2026-07-05"
CHANGE = {"from": "2026-05-04", "type": "patient", "factor": 1.5}
STEADY_SEEDS = (42, 43, 44)   # outside clinics with no change
TARGET_COVERAGE, TARGET_DELAY_DAYS, TARGET_FALSE_ALARMS, TARGET_UPDATE_SHARE = (0.85, 0.95), 14, 0.05, 0.2


def twin(*argv) -> float:
    "Run `twinlab twin ...`; its wall seconds"
    started = time.perf_counter()
    subprocess.run([str(TWINLAB), "twin", *argv], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def replay_cli(clinic: Path, state: Path, seed: int) -> list[float]:
    "init on the first 8 weeks, then weekly updates to the end; the seconds of each update"
    twin("init", str(clinic), "--until", INIT_UNTIL, "--state", str(state), "--seed", str(seed))
    day, spent = INIT_UNTIL, []
    while day < LAST:
        day = str(dt.date.fromisoformat(day) + dt.timedelta(days=7))
        spent.append(twin("update", str(state), str(clinic), "--until", day))
    return spent


with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    outside_clinic(tmp / "changed", seed=41, providers=8, days=DAYS, start=START, change=CHANGE)
    for seed in STEADY_SEEDS: outside_clinic(tmp / f"steady{seed}", seed=seed, providers=8, days=DAYS, start=START)
    print(f"load average {os.getloadavg()[0]:.1f}")
    calibration = twin("init", str(tmp / "steady42"), "--until", "2026-04-05", "--state", str(tmp / "cost"), "--seed", "1")
    update = twin("update", str(tmp / "cost"), str(tmp / "steady42"), "--until", "2026-04-12")
    print(f"fresh calibration on 13 weeks: {calibration:.1f} s; one weekly update: {update:.1f} s; "
          f"ratio {update / calibration:.2f} (target <= {TARGET_UPDATE_SHARE})")
    alarms = quarters = 0
    for name, change in (("changed", CHANGE), *((f"steady{seed}", None) for seed in STEADY_SEEDS)):
        spent = replay_cli(tmp / name, tmp / f"{name}-state", seed=7)
        metrics = replay_metrics(load_state(tmp / f"{name}-state").monitor, change and change["from"])
        print(f"{name}: {len(spent)} weekly updates, {sum(spent) / len(spent):.1f} s each on average; " + json.dumps(metrics))
        if change is None: alarms, quarters = alarms + metrics["false_alarms"], quarters + metrics["provider_quarters"]
    low, high = binomtest(alarms, round(quarters)).proportion_ci()
    print(f"no-change clinics pooled: {alarms} false alarm(s) in {quarters:.0f} provider-quarters, {alarms / quarters:.3f} per "
          f"provider-quarter (exact 95% interval {low:.3f} to {high:.3f})")
    print(f"targets: coverage {TARGET_COVERAGE[0]:.0%}-{TARGET_COVERAGE[1]:.0%}, detection <= {TARGET_DELAY_DAYS} days, "
          f"false alarms <= {TARGET_FALSE_ALARMS} per provider-quarter")
