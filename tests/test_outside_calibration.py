"""The twin calibrated on a clinic it did not generate (issue 10): the outside generator (tests/outside_clinic.py) writes
8 providers x 13 weeks whose documentation time, message handling time and message rates differ by up to +-50%, with
its own conventions (an event every 20-70 s while working, messages in bursts, notes deferred to the evening, a pace
of its own each day). Calibrated at the default tier (3: the audit log), the twin must converge.

The issue's further criterion, each provider's mean daily EHR and inbox minutes within 15% of the generator's truth, is
not tested here because it does not hold reliably: runs that differ only in how the random numbers are laid out gave
worst-provider errors from 12.5% to 24% (see the issue 10 note)."""
import pytest

from tests.outside_clinic import outside_clinic
from twinlab.calibrate import calibrate
from twinlab.data import load_clinic


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    out = tmp_path_factory.mktemp("outside") / "harbor"
    outside_clinic(out, seed=10, providers=8, days=91)
    data = load_clinic(out, salt="outside-calibration-test")
    return data, calibrate(data, seed=3)


def test_default_tier_converges_on_the_outside_clinic(calibrated):
    data, post = calibrated
    assert data.tier == 3 and post.converged
