"""Virtual clinic -> load_clinic -> the generator's truth; the shipped virtual clinic; another system's export.

The notebooks test the same functions on the example clinic's centre parameters; here: other parameter
sets drawn from the prior, a period across the start of daylight saving time, the shipped data
directory (regenerated bit for bit) and the example export of another system."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twinlab.clinic import Clinic
from twinlab.data import INACTIVITY_TIMEOUT_MINUTES as T, literature_targets, load_clinic, monthly_view, validation_report
from twinlab.model import simulate
from twinlab.params import default_space
from twinlab.synth import read_truth, virtual_clinic, write_shipped_clinic

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "virtual_clinic"
EXACT = ("scheduled_minutes", "booked", "arrived", "messages_in", "messages_to_provider")
OPEN_AT_MIDNIGHT = ("open_messages", "backlog")   # exact but on a day whose work ran past midnight (see below)


def digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def prior_draw(clinic: Clinic, i: int) -> dict:
    "Parameter set `i` of a seeded sample from the prior"
    theta = default_space(clinic).sample(3, seed=42)
    return {name: float(theta[name].values[i]) for name in theta.data_vars}


def worked_past_midnight(folder: Path, observed) -> np.ndarray:
    "(provider, date) True where the audit log has the provider's events after midnight and before 06:00 of the next date"
    log = pd.read_parquet(folder / "audit_log.parquet")
    wall = pd.to_datetime(log["timestamp"].str.slice(0, 19))   # local wall-clock time
    early = log[wall.dt.hour < 6]
    late = pd.DataFrame(False, index=observed["provider"].values, columns=pd.DatetimeIndex(observed["date"].values))
    for provider, day in zip(early["provider_id"], wall[wall.dt.hour < 6].dt.normalize() - pd.Timedelta(days=1)):
        if day in late.columns: late.loc[provider, day] = True
    return late.to_numpy()


@pytest.mark.parametrize("draw", [0, 1, 2])
def test_roundtrip_recovers_the_truth(tmp_path, draw):
    clinic = Clinic.example()
    theta = prior_draw(clinic, draw)
    # three weeks around 8 March 2026, when daylight saving time starts in Chicago
    virtual_clinic(tmp_path / "vc", clinic, theta, seed=100 + draw, start="2026-02-23", days=21)
    observed = load_clinic(tmp_path / "vc").observed
    truth_theta, truth = read_truth(tmp_path / "vc")
    assert truth_theta == theta
    for v in EXACT:
        np.testing.assert_array_equal(observed[v].values, truth[v].values, err_msg=v)
    # the model's day ends when the provider stops, the data's at midnight: work past midnight closes items a date later
    late = worked_past_midnight(tmp_path / "vc", observed)
    for v in OPEN_AT_MIDNIGHT:
        np.testing.assert_array_equal(observed[v].values[~late], truth[v].values[~late], err_msg=v)
    # checkouts are written to the second
    np.testing.assert_allclose(observed.overrun_minutes.values, truth.overrun_minutes.values, atol=1 / 60)
    # active EHR time: exact to the second per run of work; a run shorter than the timeout is off by less than T
    # (visits never overlap: lateness carries from block to block)
    for v in ("ehr_minutes", "ehr_outside_minutes", "face_minutes"):
        gap = (observed[v] - truth[v]).to_series()
        assert gap.abs().median() < 0.05, v
        assert abs(gap.mean()) < 0.2, v
    on_time = ~(late | np.pad(late, ((0, 0), (1, 0)))[:, :-1]).ravel()   # work past midnight moves minutes to the next date
    ehr = (observed.ehr_minutes - truth.ehr_minutes).to_series()[on_time]
    assert ehr.abs().max() <= T
    for v in ("note_minutes", "chart_review_minutes", "order_minutes", "inbox_minutes"):
        gap = (observed[v] - truth[v]).to_series()
        # the last T minutes of each run carry one activity; the labels keep a provider's running error within about T
        assert gap[on_time].abs().max() <= 2 * T, v
        assert abs(gap.mean()) < T / 10, v


def test_truth_totals_are_those_of_simulate(tmp_path):
    clinic = Clinic.example()
    virtual_clinic(tmp_path / "vc", clinic, seed=9, days=10)
    theta, truth = read_truth(tmp_path / "vc")
    sim = simulate(clinic, theta, days=10, seed=9).isel(draw=0)
    for v in truth.data_vars:
        np.testing.assert_array_equal(truth[v].values, sim[v].values.astype(float), err_msg=v)


def test_shipped_virtual_clinic_regenerates_bit_identically(tmp_path):
    write_shipped_clinic(tmp_path / "vc")
    assert digest(tmp_path / "vc") == digest(SHIPPED)


def test_shipped_virtual_clinic_is_small_loads_and_matches_its_truth():
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) <= 10 * 2**20
    report, _ = validation_report(SHIPPED)
    assert report["valid"] and report["tier"] == 3 and report["errors"] == 0
    truth_doc = json.loads((SHIPPED / "truth.json").read_text())
    assert report["duplicates_dropped"] == truth_doc["mess"]["duplicated_events"] > 0
    data = load_clinic(SHIPPED)
    _, truth = read_truth(SHIPPED)
    assert dict(data.observed.sizes) == {"provider": 8, "date": 91, "month": 4}
    for v in EXACT:
        np.testing.assert_array_equal(data.observed[v].values, truth[v].values, err_msg=v)
    rel = abs(float(data.observed.ehr_minutes.sum()) / float(truth.ehr_minutes.sum()) - 1)
    assert rel < 1e-3   # per-day errors of less than T on some days, none systematic
    # the clinic's monthly report (written from the truth) agrees with the daily data it summarises:
    # exactly for counts, and for minutes within a few timeouts, as errors do not accumulate over a month
    by_month, month = monthly_view(data.observed), data.observed
    for v in ("clinic_days", "scheduled_hours", "messages_in"):
        np.testing.assert_allclose(by_month[f"monthly_{v}"].values, month[f"monthly_{v}"].values, atol=0.005, err_msg=v)
    for v in ("ehr_minutes", "note_minutes", "inbox_minutes"):
        np.testing.assert_allclose(by_month[f"monthly_{v}"].values, month[f"monthly_{v}"].values, atol=3 * T, err_msg=v)


def test_literature_targets_file():
    targets = literature_targets(ROOT / "data" / "literature_targets.csv")
    assert targets["source"].notna().all() and targets["informs"].notna().all()
