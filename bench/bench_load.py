"""Loading and aggregating a 1,000,000-event audit log: `twinlab.data.load_clinic` on the example clinic's data
directory with an audit log of one million events (plus appointments and inbox), as CSV and as Parquet.

Target (issue 4): at most 10 s on 2 cores. The events are spread over the example clinic's providers and
session hours and evenings, written as local wall-clock times (the loader localises them)."""
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from twinlab.clinic import Clinic
from twinlab.data import ACTIVITIES, load_clinic, scheduled_blocks

TARGET_SECONDS, EVENTS = 10.0, 1_000_000


def audit_log(clinic: Clinic, n: int, seed: int = 0) -> pd.DataFrame:
    "`n` events in the clinic's blocks and evenings, in time order per provider"
    rng = np.random.default_rng(seed)
    blocks = scheduled_blocks(clinic)
    pick = rng.integers(0, len(blocks), n)
    start, end = blocks["start_s"].to_numpy()[pick], blocks["end_s"].to_numpy()[pick] + 4 * 3600  # blocks and the evening after
    t = np.floor(start + rng.random(n) * (end - start))
    wall = pd.to_datetime(t, unit="s", utc=True).tz_convert(clinic.timezone).tz_localize(None)
    return pd.DataFrame({"provider_id": np.array(clinic.providers)[blocks["provider"].to_numpy()[pick]],
                         "timestamp": np.datetime_as_string(wall.values, unit="s"),
                         "activity": rng.choice(ACTIVITIES[:4], n), "appointment_id": None}).sort_values(["provider_id", "timestamp"])


def timed(folder: Path) -> tuple[float, int]:
    t0 = time.perf_counter()
    data = load_clinic(folder, salt="bench")
    return time.perf_counter() - t0, data.duplicates_dropped


if __name__ == "__main__":
    clinic = Clinic.example()
    log = audit_log(clinic, EVENTS)
    root = Path(tempfile.mkdtemp(prefix="twinlab-bench-"))
    try:
        for suffix in (".csv", ".parquet"):
            folder = root / suffix.lstrip(".")
            folder.mkdir()
            clinic.write(folder)
            if suffix == ".csv": log.to_csv(folder / "audit_log.csv", index=False)
            else: log.to_parquet(folder / "audit_log.parquet", index=False)
            seconds, dropped = min(timed(folder) for _ in range(2))
            verdict = "OK" if seconds <= TARGET_SECONDS else "TOO SLOW"
            print(f"load_clinic, audit log of {len(log):,} events ({suffix}, {dropped:,} exact duplicates dropped): {seconds:.2f} s "
                  f"(target <= {TARGET_SECONDS:.0f} s on 2 cores; {os.cpu_count()} CPUs here) {verdict}")
    finally:
        shutil.rmtree(root)
