"""Packaging: the conda and pip dependency lists agree, and the wheel works outside the checkout."""
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _requirement(spec: str) -> tuple[str, str]:
    "('name', 'constraint') of a requirement such as 'pytest-xdist>=3.5', name normalised as in PEP 503"
    name, constraint = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$", spec).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), constraint.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = dict(map(_requirement, project["dependencies"] + project["optional-dependencies"]["dev"]))
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda_side = dict(_requirement(d) for d in conda if isinstance(d, str) and _requirement(d)[0] not in ("python", "pip"))
    assert conda_side == pip_side


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--verbose", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(wheels), str(ROOT)], check=True, cwd=tmp_path, capture_output=True, text=True)
    assert "would be ignored" not in built.stdout + built.stderr  # every shipped folder is a declared package
    (wheel,) = wheels.glob("twinlab_workload-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "twinlab/core.py" in names and "twinlab/cli.py" in names
    assert "twinlab/report_templates/clinic.ipynb" in names  # reports/*.ipynb, as package data
    assert not [n for n in names if n.startswith("twinlab/report_templates/") and n.count("/") > 2]  # never reports/out/
    assert {"twinlab/datasets/literature_targets.csv", "twinlab/datasets/virtual_clinic/clinic.yaml"} <= set(names)  # data/, as package data
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, cwd=tmp_path)
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import twinlab; print(twinlab.__file__)"],
                           check=True, cwd=tmp_path, env=env, capture_output=True, text=True).stdout
    assert Path(where.strip()).is_relative_to(target)
    helped = subprocess.run([str(target / "bin" / "twinlab"), "--help"],
                            check=True, cwd=tmp_path, env=env, capture_output=True, text=True).stdout
    assert "usage: twinlab" in helped and "info" in helped
    report = ("from twinlab.reports import find_template, run_report; import nbformat; "
              "print(find_template('clinic')); page = run_report('clinic', {'weeks': 1}, 'out'); "
              "print(nbformat.read(page.with_suffix('.ipynb'), as_version=4).metadata.twinlab.git)")
    template, git = subprocess.run([sys.executable, "-c", report], check=True, cwd=tmp_path, env=env,
                                   capture_output=True, text=True).stdout.split()
    assert Path(template).is_relative_to(target) and git == "None"  # the installed template, run outside any checkout
    assert (tmp_path / "out" / "clinic.html").exists()
    shipped = ("from twinlab.core import shipped_path; from twinlab.data import load_clinic; "
               "print(shipped_path('literature_targets.csv')); print(load_clinic(shipped_path('virtual_clinic')).tier)")
    targets, tier = subprocess.run([sys.executable, "-c", shipped], check=True, cwd=tmp_path, env=env,
                                   capture_output=True, text=True).stdout.split()
    assert Path(targets).is_relative_to(target) and tier == "3"  # the shipped data load from the installed wheel
