"""An audit log twinlab did not write: the outside generator (tests/outside_clinic.py) against the loader's active-time rules.

The generator logs an event at the start of each activity and then every 20-70 s, nothing at its end,
with idle pauses between activities; its truth.json holds the minutes actually worked."""
import numpy as np
import pandas as pd
import pytest

from tests.outside_clinic import outside_clinic
from twinlab.data import LAST_EVENT_SECONDS, load_clinic, validation_report

VARIABLES = ("ehr_minutes", "inbox_minutes", "note_minutes", "ehr_outside_minutes")


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    out = tmp_path_factory.mktemp("outside") / "harbor"
    truth = outside_clinic(out, seed=10, providers=6, days=28)
    return out, truth, pd.DataFrame(truth["days"]).groupby("provider")[list(VARIABLES)].sum()


def measured(out, rule: str) -> pd.DataFrame:
    obs = load_clinic(out, active_rule=rule).observed
    return pd.DataFrame({v: obs[v].sum("date").to_series() for v in VARIABLES})


def test_it_loads_and_validates_as_tier_3(clinic):
    out, truth, _ = clinic
    report, found = validation_report(out)
    assert (report["valid"], report["tier"], report["errors"], report["warnings"]) == (True, 3, 0, 0), [str(f) for f in found]
    assert report["active_time"]["rule"] == "gap"
    data = load_clinic(out)
    assert data.active_rule == data.observed.attrs["active_rule"] == "gap"
    assert list(data.observed.provider.values) == list(truth["parameters"])


def test_default_rule_is_within_5_percent_of_the_truth(clinic):
    out, _, truth = clinic
    m = measured(out, "gap")
    errors = (m / truth - 1).round(3)
    print("per-provider relative error, gap rule:\n", errors)
    for v in ("ehr_minutes", "inbox_minutes"):
        assert abs(m[v].sum() / truth[v].sum() - 1) < 0.05, (v, errors[v].to_dict())


def test_the_measure_matches_the_generators_own_account_of_each_pause(clinic):
    # an oracle in plain Python (outside_clinic._excess): each stretch's last event is credited the pause after it
    # (capped: up to the timeout; gap: in full if shorter than the timeout, else the allowance) less the work after it
    out, truth, worked = clinic
    assert LAST_EVENT_SECONDS == 30
    for rule in ("gap", "capped"):
        excess = measured(out, rule)["ehr_minutes"] - worked["ehr_minutes"]
        expected = pd.Series({p: e[f"{rule}_minutes"] for p, e in truth["measure_excess"].items()})
        np.testing.assert_allclose(excess.to_numpy(), expected[excess.index].to_numpy(), atol=1e-6, err_msg=rule)


def test_capped_rule_reads_high_by_the_idle_pauses(clinic):
    out, truth, worked = clinic
    capped, gap = measured(out, "capped"), measured(out, "gap")
    assert (capped["ehr_minutes"] > gap["ehr_minutes"]).all() and (capped["inbox_minutes"] > worked["inbox_minutes"]).all()
    pauses = pd.Series({p: e["pauses"] for p, e in truth["measure_excess"].items()})[worked.index]
    # each pause adds up to the 5-minute timeout less the 20-70 s between the stretch's last event and its end
    per_pause = (capped["ehr_minutes"] - worked["ehr_minutes"]) / pauses
    assert ((per_pause > 5 - 70 / 60) & (per_pause <= 5)).all(), per_pause.to_dict()
    # seeded regression (seed 10, 6 providers, 28 days): the capped rule reads 54.8% high overall
    assert abs(capped["ehr_minutes"].sum() / worked["ehr_minutes"].sum() - 1 - 0.548) < 0.005


def test_message_minutes_fit_where_the_messages_have_no_day_pace(tmp_path):
    """The generator's messages have no day pace, so the provider-day variance of the message-minutes mixed model sits at 0.
    There statsmodels' first optimiser (BFGS) stopped unconverged on this clinic (seed 7105), which stopped its calibration;
    the fit falls back to derivative-free searches (nbs/07a_submodels) and recovers the generator's shape, 0.5"""
    from twinlab.submodels import handling_model
    outside_clinic(tmp_path / "harbor", seed=7105, providers=6, days=56)
    inbox = load_clinic(tmp_path / "harbor").tables["inbox"]
    fit = handling_model(inbox, 4000, np.random.default_rng(1))   # raised CalibrationError before the fallback
    assert fit.extra["day_sd"] < 0.05   # seeded: 0.032 (its true value is 0; the twin's prior centre for a day's pace is 0.3)
    sigma = fit.draws["msg_minutes_sigma"]
    assert np.quantile(sigma, 0.005) < 0.5 < np.quantile(sigma, 0.995), (sigma.mean(), sigma.std())   # lognormal(0, 0.5) seconds
