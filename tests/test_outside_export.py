"""Checks on a clinic data directory that another system wrote (not twinlab.synth): the shared outside export.

It is not part of the repository. `.ci/run` sets TWINLAB_OUTSIDE_EXPORT to its folder when the shared data lie beside
the checkout (and TWINLAB_SHARED_LITERATURE to the shared copy of the published figures); without them these tests
skip, saying why."""
import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twinlab.core import shipped_path
from twinlab.data import _inbox_variables, literature_targets, load_clinic, monthly_view, validation_report

OUTSIDE = os.environ.get("TWINLAB_OUTSIDE_EXPORT")
LITERATURE = os.environ.get("TWINLAB_SHARED_LITERATURE")
needs_export = pytest.mark.skipif(not OUTSIDE, reason="TWINLAB_OUTSIDE_EXPORT is not set: the outside example export is not at hand")


def digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def lakeside():
    return load_clinic(OUTSIDE, salt="pepper")


@needs_export
def test_loads_as_tier_3_and_only_reads_its_inputs():
    before = digest(Path(OUTSIDE))
    data = load_clinic(OUTSIDE, salt="pepper")
    assert digest(Path(OUTSIDE)) == before
    assert (data.tier, sorted(data.tables)) == (3, ["appointments", "audit_log", "inbox", "monthly"])
    assert data.duplicates_dropped == 1798   # the export's exact duplicate audit-log rows
    assert [len(data.tables[t]) for t in ("appointments", "inbox", "audit_log")] == [771, 2937, 20598 - 1798]


@needs_export
def test_its_own_monthly_table_agrees_with_what_the_loader_derives(lakeside):
    obs = lakeside.observed
    assert dict(obs.sizes) == {"provider": 3, "date": 26, "month": 2}
    assert (int(obs.booked.sum()), int(obs.arrived.sum()), int(obs.messages_in.sum())) == (771, 669, 2937)
    by_month = monthly_view(obs)
    for v in ("messages_in", "clinic_days", "scheduled_hours"):
        np.testing.assert_array_equal(by_month[f"monthly_{v}"].values, obs[f"monthly_{v}"].values, err_msg=v)
    # that system summed inbox minutes from active_seconds by month completed
    by_completion = _inbox_variables(lakeside.tables["inbox"], lakeside.clinic, (3, 26), minutes=True)["inbox_minutes"]
    np.testing.assert_allclose(by_completion[:, :3].sum(1), obs.monthly_inbox_minutes.sel(month="2026-09").values, atol=0.01)


@needs_export
def test_daily_figures_are_plausible_against_the_literature(lakeside):
    obs = lakeside.observed
    l1 = obs.sel(provider="L-1").where(obs.scheduled_minutes.sel(provider="L-1") > 0, drop=True)
    # Arndt et al. 2017: 355 EHR minutes per weekday per 1.0 FTE, 86 after hours; Gilchrist et al. 2005: about 20 patients a day
    assert 150 < float(l1.ehr_minutes.mean()) < 450 and 30 < float(l1.ehr_outside_minutes.mean()) < 150
    assert 12 < float(l1.arrived.mean()) < 24 and 8 < float((l1.face_minutes / l1.arrived).mean()) < 30
    assert bool((obs.ehr_outside_minutes <= obs.ehr_minutes + 1e-9).all())


@needs_export
def test_no_patient_identifier_survives_loading(lakeside):
    ids = set(pd.read_csv(Path(OUTSIDE) / "appointments.csv")["patient_id"])
    assert not ids & set(lakeside.tables["appointments"]["patient_id"])


@needs_export
def test_validate_reports_it_valid_with_its_duplicates():
    report, _ = validation_report(OUTSIDE)
    assert (report["valid"], report["tier"], report["errors"], report["duplicates_dropped"]) == (True, 3, 0, 1798)
    assert report["tables"]["audit_log"] == {"file": "audit_log.csv", "rows": 20598}


@pytest.mark.skipif(not LITERATURE, reason="TWINLAB_SHARED_LITERATURE is not set: the shared table of published figures is not at hand")
def test_shipped_literature_targets_carry_the_shared_figures_unchanged():
    ours, shared = literature_targets(shipped_path("literature_targets.csv")), pd.read_csv(LITERATURE).set_index("id")
    assert ours.index[:len(shared)].tolist() == shared.index.tolist()   # the shared rows first, in their order
    assert ours.loc[shared.index, "value"].tolist() == shared["value"].tolist()
    added = ours.iloc[len(shared):]   # figures the project researched since (issue 10 asks for them), each cited
    assert added["source"].notna().all() and added["doi"].notna().all(), added.index.tolist()


@needs_export
def test_default_calibration_converges(lakeside):
    from twinlab.calibrate import calibrate
    post = calibrate(lakeside, seed=1)  # the default tier (3) and settings; strict: raises unless it converged
    assert post.converged
    # where the twin alone misses summaries, the refit gives each a discrepancy as large as its misfit, which makes the
    # observed value an ordinary draw: the checks of the refit then find no summary out of reach
    assert post.checks.attrs["not_reproduced"] == "", post.draws.attrs["model_discrepancy"]
