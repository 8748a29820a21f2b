"""Recovery of known truths by `twinlab.calibrate.calibrate`: a fast check that runs in CI, and the slow validation
over 20 virtual clinics with truths drawn from the prior, and over 20 clinics of the outside generator
(bench/validate_recovery.py; `pytest -m slow`)."""
import pandas as pd
import pytest

from twinlab.calibrate import calibrate
from twinlab.data import load_clinic
from twinlab.synth import read_truth, virtual_clinic



def test_recovers_the_truth_of_a_small_virtual_clinic(tmp_path):
    virtual_clinic(tmp_path / "vc", seed=5, days=21)  # the example clinic, truth at the prior centre, 3 weeks
    truth = pd.Series(read_truth(tmp_path / "vc")[0])
    post = calibrate(load_clinic(tmp_path / "vc", salt="test"), seed=5, particles=150, pilot=600, checks=0, batch=150)
    s = post.summary()
    inside = (s.q05 <= truth) & (truth <= s.q95)
    assert post.converged
    assert inside.sum() >= 20, s[~inside]  # of 26 calibrated 90% intervals, fewer than 20 hold the truth with probability 0.012
    direct = ~s["method"].str.contains("SMC-ABC|prior:")   # (the note median is direct when its shape is)
    assert direct.sum() == 20  # what the tables identify: booking, no-shows, the inbox, chart review, orders, the note's median and shape
    narrow = (s.q95 - s.q05) / (s.prior_q95 - s.prior_q05)
    assert (narrow[direct] < 0.5).all(), narrow[direct]  # three weeks of tables pin them well inside the prior ...
    assert narrow[direct & ~s.index.str.startswith("delegation_")].max() < 0.3  # ... (delegation priors are narrow already: clinic settings)


@pytest.mark.slow
def test_coverage_over_virtual_clinics(tmp_path):
    from bench.validate_recovery import TARGET, main
    result = main(clinics=20, days=56, tier=3, out=tmp_path)
    assert TARGET[0] <= result["coverage"] <= TARGET[1]


@pytest.mark.slow
def test_coverage_over_outside_clinics(tmp_path):
    from bench.validate_recovery import TARGET, main
    result = main(clinics=20, days=56, tier=3, out=tmp_path, generator="outside")
    assert TARGET[0] <= result["coverage"] <= TARGET[1]
