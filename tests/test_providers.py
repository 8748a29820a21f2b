"""Provider differences (issue 10): a virtual clinic whose providers differ by up to +-50% in documentation time, message
handling time, message rates and after-hours budget is calibrated at tier 3; each provider's predicted workload must
match that provider's truth, and the partial pooling must shrink a provider with little data and give a new provider
the population distribution."""
import numpy as np
import pytest

from twinlab.calibrate import calibrate
from twinlab.clinic import Clinic
from twinlab.data import load_clinic
from twinlab.model import simulate
from twinlab.params import PROVIDER_EFFECTS, default_space
from twinlab.submodels import provider_effects
from twinlab.synth import read_truth, virtual_clinic

TOLERANCE = 0.15   # the criterion: each provider's mean daily EHR and inbox minutes within 15% of its truth
SETTINGS = dict(checks=0)   # default ABC settings: with the quick ones (150 particles) this clinic stops at the simulation budget


@pytest.fixture(scope="module")
def unequal(tmp_path_factory):
    "The example clinic over its 13 weeks, every provider's four factors drawn from U(0.5, 1.5) (seed 2026), calibrated at tier 3"
    clinic = Clinic.example()
    rng = np.random.default_rng(2026)
    truth = default_space(clinic).centre() | {e.var: dict(zip(clinic.providers, rng.uniform(0.5, 1.5, len(clinic.providers))))
                                              for e in PROVIDER_EFFECTS}
    out = tmp_path_factory.mktemp("unequal") / "vc"
    virtual_clinic(out, clinic, truth=truth, seed=5)
    data = load_clinic(out, salt="test")
    return data, truth, read_truth(out)[1], calibrate(data, seed=3, **SETTINGS)


def _per_session_day(x, data):
    "Period total over session days, per provider (and draw)"
    return x.sum("date") / (data.observed["scheduled_minutes"] > 0).sum("date")


def test_each_providers_workload_is_within_15_percent_of_its_truth(unequal):
    data, _, truth_totals, post = unequal
    assert post.converged
    sim = simulate(data.clinic, post.sample(200, seed=4), seed=5)
    for v in ("ehr_minutes", "inbox_minutes"):
        error = (_per_session_day(sim[v].mean("draw"), data) / _per_session_day(truth_totals[v], data) - 1).values
        assert np.abs(error).max() < TOLERANCE, (v, error.round(3))


def test_without_effects_the_same_clinic_misses_its_providers(unequal):
    "The criterion has teeth: the clinic-level posterior alone (every factor 1) misses some provider by more than 15%"
    data, _, truth_totals, post = unequal
    theta = post.sample(200, seed=4)
    sim = simulate(data.clinic, theta.drop_vars([e.var for e in PROVIDER_EFFECTS]), seed=5)
    error = (_per_session_day(sim["inbox_minutes"].mean("draw"), data) / _per_session_day(truth_totals["inbox_minutes"], data) - 1).values
    assert np.abs(error).max() > TOLERANCE, error.round(3)


def test_each_providers_posterior_predictive_matches_its_own_data(unequal):
    "Every provider's observed period totals lie inside the 1-99% band of the posterior predictive (16 checks: 2 variables x 8 providers)"
    data, _, _, post = unequal
    sim = simulate(data.clinic, post.sample(300, seed=6), seed=7)
    for v in ("ehr_minutes", "inbox_minutes", "note_minutes", "messages_in"):
        lo, hi = sim[v].sum("date").quantile([0.01, 0.99], "draw").values
        observed = data.observed[v].sum("date").values
        assert ((observed >= lo) & (observed <= hi)).all(), (v, lo.round(0), observed.round(0), hi.round(0))


def test_estimated_effects_follow_the_true_ones(unequal):
    "Relative to the clinic, the posterior mean factors order the providers as the truth does (Spearman > 0.8 for the four identified effects)"
    data, truth, _, post = unequal
    from scipy.stats import spearmanr
    for name in ("note_minutes", "visit_ehr", "msg_minutes", "msg_rate"):
        est = post.draws[f"effect_{name}"].mean("draw").values
        true = np.array([truth[f"effect_{name}"][p] for p in data.clinic.providers])
        assert spearmanr(est, true).statistic > 0.8, (name, est.round(2), true.round(2))


def test_a_provider_with_little_data_is_shrunk_towards_the_clinic(unequal):
    "Keep 6 of one provider's handled messages: its shrinkage towards the clinic (B = v / (v + tau^2)) is over 3 times any other's"
    data, *_ = unequal
    inbox = data.tables["inbox"]
    few = data.clinic.providers[0]
    mine = inbox.index[(inbox["provider_id"] == few) & (inbox["handled_by"] == "provider")]
    data.tables["inbox"] = inbox.drop(mine[6:])
    try: fit = provider_effects(data, 4000, np.random.default_rng(1))["msg_minutes"]
    finally: data.tables["inbox"] = inbox
    t = fit.table_of()
    assert t.loc[few, "shrinkage"] > 3 * t["shrinkage"].drop(few).max(), t
    width = np.log(t["q95"] / t["q05"])
    assert width[few] > width.drop(few).max(), t   # and it keeps the most uncertainty


def test_a_new_provider_gets_the_population_distribution(unequal):
    "A provider the posterior does not know gets log-normal factors with the estimated between-provider sd and the effect's centre"
    _, _, _, post = unequal
    theta = post.sample(4000, seed=8, providers=post.providers + ["NEW"])
    for e in PROVIDER_EFFECTS:
        sd = float(post.draws[f"effect_sd_{e.name}"][0])
        log_f = np.log(theta[e.var].sel(provider="NEW").values)
        centre = -sd ** 2 / 2 if e.centre == "mean" else 0.0
        # 4000 normal draws: the mean is within 4 standard errors (4 sd / 63) and the sd within 5%
        assert abs(log_f.mean() - centre) < 4 * sd / np.sqrt(4000) + 1e-12, e.name
        assert abs(log_f.std() - sd) <= 0.05 * sd + 1e-12, e.name
        known = theta[e.var].sel(provider=post.providers[0]).values
        assert np.isin(known, post.draws[e.var].sel(provider=post.providers[0]).values).all()   # known providers: their posterior draws
