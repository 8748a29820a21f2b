"""Run every benchmark in bench/ (files named bench_*.py), one after the other, and print their reports.

Benchmarks are not tests: each prints its own measurements and ratios against reference
implementations measured in the same run. `make bench` runs this file as `python -m bench.run` from the top of the
checkout, so that the benchmarks import the test suite's oracle as the package `tests`."""
import runpy
import sys
from pathlib import Path

selected = sys.argv[1:]
for script in sorted(Path(__file__).parent.glob("bench_*.py")):
    if selected and script.stem.removeprefix("bench_") not in selected:
        continue
    print(f"== {script.name}", flush=True)
    runpy.run_path(str(script), run_name="__main__")
