"""Importing an Epic Signal Provider Efficiency Profile for a whole department: `twinlab.vendor.import_signal` on a
real-layout workbook (Time and Messages sheets, the vendor's metric names, one column per month) of 60 providers over
12 months, written by `twinlab.vendor.signal_workbook`, including the validation of the directory it writes.

Target (issue 16): under 10 s on 2 cores."""
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from twinlab.vendor import import_signal, signal_workbook

TARGET_SECONDS, PROVIDERS, MONTHS = 10.0, 60, 12


def department(seed: int = 0) -> pd.DataFrame:
    "A monthly table of `PROVIDERS` providers over `MONTHS` months with plausible magnitudes (per month of a 1.0 FTE PCP)"
    rng = np.random.default_rng(seed)
    n = PROVIDERS * MONTHS
    days = rng.integers(8, 21, n)
    hours = days * rng.choice([4.0, 6.0, 8.0], n)
    ehr = hours * 60 * rng.uniform(0.6, 1.2, n)
    return pd.DataFrame({"provider_id": np.repeat([f"D{i:03d}" for i in range(PROVIDERS)], MONTHS),
                         "month": np.tile(pd.period_range("2024-07", periods=MONTHS, freq="M").strftime("%Y-%m"), PROVIDERS),
                         "clinic_days": days, "scheduled_hours": hours, "ehr_minutes": ehr.round(2),
                         "ehr_outside_minutes": (ehr * rng.uniform(0.1, 0.3, n)).round(2), "note_minutes": (ehr * 0.3).round(2),
                         "inbox_minutes": (ehr * 0.25).round(2), "messages_in": rng.integers(300, 1500, n)})


if __name__ == "__main__":
    root = Path(tempfile.mkdtemp(prefix="twinlab-bench-"))
    try:
        book = signal_workbook(department(), root / "signal.xlsx", grouper="PHYSICIAN")
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            s = import_signal(book, root / "clinic", name="Department")
            times.append(time.perf_counter() - t0)
        seconds = min(times)
        verdict = "OK" if seconds <= TARGET_SECONDS else "TOO SLOW"
        print(f"import_signal, {s['providers']} providers x {s['months']} months ({book.stat().st_size / 1e3:.0f} kB workbook, "
              f"{s['monthly_rows']} monthly rows written and validated): {seconds:.2f} s "
              f"(target < {TARGET_SECONDS:.0f} s on 2 cores; {os.cpu_count()} CPUs here) {verdict}")
    finally:
        shutil.rmtree(root)
