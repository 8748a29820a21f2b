"""`twinlab whatif` as a user meets it (the error cases in-process: each is found before anything runs): the JSON shape of the issue, bit-identical reruns, and a bad spec that names what is
wrong, exits 2 and writes nothing."""
import json
import subprocess
import sys
from pathlib import Path

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
