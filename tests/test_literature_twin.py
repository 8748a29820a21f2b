"""The literature-only twin (issue 10): calibrated on the shipped published figures alone (tier 0, the example clinic's
settings), it converges and each figure lies inside the twin's 90% posterior predictive interval, without a misfit
p-value (twinlab.checks.MISFIT_P)."""
import pytest

from twinlab.calibrate import calibrate
from twinlab.checks import MISFIT_P
from twinlab.clinic import Clinic


@pytest.fixture(scope="module")
def literature_twin():
    return calibrate(Clinic.example(), seed=1)


def test_it_converges_on_the_literature_alone(literature_twin):
    assert literature_twin.converged


def test_every_shipped_figure_lies_inside_the_twins_90_percent_interval(literature_twin):
    checks = literature_twin.checks
    outside = checks["summary"].values[checks["inside_90"].values == 0].tolist()
    assert not outside, outside
    misfit = checks["summary"].values[checks["p_value"].values < MISFIT_P].tolist()
    assert not misfit, misfit
    assert checks.sizes["summary"] >= 12   # the shipped figures the twin computes, and the sd of visit length
