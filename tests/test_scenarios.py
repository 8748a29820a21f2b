"""`twinlab whatif` as a user meets it (the error cases in-process: each is found before anything runs): the JSON shape of the issue, bit-identical reruns, and a bad spec that names what is
wrong, exits 2 and writes nothing."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from twinlab.cli import main
from twinlab.clinic import Clinic
from twinlab.params import default_space
from twinlab.posterior import Posterior
from twinlab.scenarios import SCENARIO_OUTPUTS

TWINLAB = str(Path(sys.executable).with_name("twinlab"))
SPEC = """scenarios:
  pool_results: {delegation: {result: 0.5}}
  half_scribed: {scribe_share: 0.5}
  portal_growth: {message_rate: {patient: 1.3}}
targets: {ehr_outside_minutes: 45}
"""


@pytest.fixture(scope="module")
def posterior(tmp_path_factory):
    path = tmp_path_factory.mktemp("post") / "post.nc"
    Posterior.from_prior(default_space(Clinic.example()), 40, seed=1).to_netcdf(path)
    return path


def whatif(posterior, spec_text, folder, *extra):
    spec = folder / "spec.yaml"
    spec.write_text(spec_text)
    return subprocess.run([TWINLAB, "whatif", "example", "--posterior", str(posterior), "--scenarios", str(spec),
                           "--weeks", "2", "--draws", "10", "--seed", "3", "--json", *extra], capture_output=True, text=True)


def test_json_has_the_issue_shape_and_reruns_bit_for_bit(posterior, tmp_path):
    first, again = whatif(posterior, SPEC, tmp_path), whatif(posterior, SPEC, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == again.stdout
    out = json.loads(first.stdout)
    providers = Clinic.example().providers
    assert list(out["scenarios"]) == ["pool_results", "half_scribed", "portal_growth"]
    for s in out["scenarios"].values():
        assert list(s) == ["outputs", "p_target_met", "providers"]
        assert set(s["outputs"]) == set(SCENARIO_OUTPUTS)
        assert set(s["outputs"]["ehr_time8"]) == {"baseline", "scenario", "change"}
        assert set(s["outputs"]["ehr_time8"]["change"]) == {"q05", "q50", "q95"}
        assert sorted(s["p_target_met"]) == sorted(providers) and all(0 <= p <= 1 for p in s["p_target_met"].values())
        assert sorted(s["providers"]) == sorted(providers)
        assert set(s["providers"]["E-1"]) == set(SCENARIO_OUTPUTS)


@pytest.mark.parametrize("spec, named", [
    ("scenarios:\n  s: {pooling: {result: 0.5}}\n", "unknown lever 'pooling'"),
    ("scenarios:\n  s: {delegation: {result: 1.2}}\n", "delegation.result = 1.2"),
    ("scenarios:\n  s: {scribe_share: {E-42: 0.5}}\n", "E-42 not on the roster"),
    ("scenarios:\n  s: {scribe_share: 0.5}\ntargets: {pajama_minutes: 30}\n", "unknown output 'pajama_minutes'"),
])
def test_a_bad_spec_names_what_is_wrong_and_writes_nothing(posterior, tmp_path, spec, named, capsys):
    (tmp_path / "spec.yaml").write_text(spec)
    code = main(["whatif", "example", "--posterior", str(posterior), "--scenarios", str(tmp_path / "spec.yaml"), "--json"])
    out = capsys.readouterr()
    assert code == 2
    assert out.err.count("\n") == 1 and out.err.startswith("error: ") and named in out.err
    assert list(json.loads(out.out)) == ["error"] and named in json.loads(out.out)["error"]["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_team_queue_works_first_in_first_out_and_spills_what_waits_too_long():
    from twinlab.model import _team_queue
    day0 = lambda n: np.zeros(n, np.int64)
    # 10 min/day, three 6-min messages on day 0, 1 day's wait: the team does one on day 0 (a second would make 12) and
    # one on day 1; on day 2 the third has waited 2 days > 1 and goes to its provider (day 2)
    assert _team_queue(day0(3), np.full(3, 6.0), 10.0, 1, 5).tolist() == [-1, -1, 2]
    # no wait allowed: day 0 takes 4 + 4, the third 4 (12 > 10) goes back on day 1, when the team takes day 1's 8
    assert _team_queue(np.array([0, 0, 0, 1]), np.array([4.0, 4, 4, 8]), 10.0, 0, 5).tolist() == [-1, -1, 1, -1]
    # a message longer than the capacity is never started and spills; one still waiting when the period ends stays (= days)
    assert _team_queue(day0(1), np.array([12.0]), 10.0, 1, 5).tolist() == [2]
    assert _team_queue(day0(1), np.array([12.0]), 10.0, 1, 2).tolist() == [2]
    assert _team_queue(day0(1), np.array([12.0]), 10.0, 1, 1).tolist() == [1]


def test_a_spilled_message_reaches_its_provider_with_its_own_minutes_ahead_of_the_days_own():
    from twinlab.model import MESSAGE_TYPES, Support, _after_team
    arrivals, kept = np.zeros((1, 3, 4), np.int64), np.zeros((1, 3, 4), np.int32)
    arrivals[0, 0, 1] = 3                                     # three result messages on day 0, all delegated
    arrivals[0, 2, 1] = kept[0, 2, 1] = 1                     # one on day 2 for the provider, scale 0.5
    th = {f"msg_minutes_{t}": 6.0 for t in MESSAGE_TYPES}
    z, z_team = np.array([0.5], np.float32), np.array([1.0, 1.0, 1.5], np.float32)   # team minutes 6, 6, 9
    to_provider, scales = _after_team(arrivals, kept, z, z_team, th, Support(team_minutes_per_day=10.0, team_spill_days=1))
    assert to_provider[0, :, 1].tolist() == [0, 0, 2] and to_provider.sum() == 2
    assert scales.tolist() == [1.5, 0.5]                     # the third (9 min: 6 + 9 > 10 on day 1) spilled on day 2


def test_an_admin_session_turns_the_last_patient_session_of_the_week_into_desk_time():
    from twinlab.scenarios import Scenario, clinic_for, simulate_scenario
    clinic = Clinic.example()
    scenario = Scenario.from_spec("admin", {"template": {"admin_sessions": {"E-1": 1}}}, clinic)
    t = clinic_for(clinic, scenario.settings).templates
    e1 = t[t["provider_id"] == "E-1"].assign(minutes=lambda d: d["end_minute"] - d["start_minute"])
    # E-1 works ten 4-hour patient sessions a week (Mon-Fri 08-12, 13-17): Friday afternoon becomes a desk block
    assert e1.groupby("kind")["minutes"].sum().to_dict() == {"desk": 240, "patient": 9 * 240}
    assert e1.query("kind == 'desk'")[["weekday", "start", "end"]].values.tolist() == [[4, "13:00", "17:00"]]
    assert t[t["provider_id"] == "E-2"].equals(clinic.templates[clinic.templates["provider_id"] == "E-2"])
    theta = Posterior.from_prior(default_space(clinic), 20, seed=1).sample(1, 1, providers=clinic.providers)
    base, admin = (simulate_scenario(clinic, theta, s, 28, seed=2) for s in (None, scenario))
    # four weeks from Monday 5 January, less the holiday of Monday 19 January (two sessions): (40 - 2) x 240 minutes;
    # the admin session removes one 240-minute session from each of the four weeks
    scheduled = lambda sim: float(sim["scheduled_minutes"].sel(provider="E-1").sum())
    assert (scheduled(base), scheduled(admin)) == (38 * 240, 34 * 240)
    assert (admin["scheduled_minutes"].drop_sel(provider="E-1") == base["scheduled_minutes"].drop_sel(provider="E-1")).all()
