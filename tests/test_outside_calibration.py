"""The twin calibrated on a clinic it did not generate (issue 10): the outside generator (tests/outside_clinic.py) writes
8 providers x 13 weeks whose documentation time, message handling time and message rates differ by up to +-50%, with
its own conventions (an event every 20-70 s while working, messages in bursts, notes deferred to the evening, a pace
of its own each day). Calibrated at the default tier (3: the audit log), the twin must converge and predict each
provider's mean daily EHR and inbox minutes within 15% of the generator's truth (the issue's criterion)."""
import numpy as np
import pandas as pd
import pytest

from tests.outside_clinic import outside_clinic
from twinlab.calibrate import calibrate
from twinlab.data import load_clinic
from twinlab.model import simulate

TOLERANCE = 0.15


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    out = tmp_path_factory.mktemp("outside") / "harbor"
    truth = outside_clinic(out, seed=10, providers=8, days=91)
    data = load_clinic(out, salt="outside-calibration-test")
    return data, pd.DataFrame(truth["days"]), calibrate(data, seed=3)


def test_default_tier_converges_on_the_outside_clinic(calibrated):
    data, _, post = calibrated
    assert data.tier == 3 and post.converged


@pytest.mark.parametrize("variable", ["ehr_minutes", "inbox_minutes"])
def test_each_providers_workload_is_within_15_percent_of_its_truth(calibrated, variable):
    data, days, post = calibrated
    sim = simulate(data.clinic, post.sample(200, seed=4), seed=5)
    session_days = (data.observed["scheduled_minutes"] > 0).sum("date").to_series()
    predicted = sim[variable].mean("draw").sum("date").to_series() / session_days
    true = days.groupby("provider")[variable].sum().reindex(predicted.index) / session_days
    error = predicted / true - 1
    assert error.abs().max() < TOLERANCE, error.round(3).to_dict()
