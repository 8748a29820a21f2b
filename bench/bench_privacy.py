"""Release packets and network calibration over ten virtual sites (issue 13): recovery, coverage, the price of privacy.

Ten virtual clinics (the example clinic's eight providers, a year of data each, message rates and minutes per message
drawn from the prior with a seed per site, written by `twinlab.synth.virtual_clinic`) release packets at epsilon 1, per period and per
week, `--repeats` times (the release's noise is fresh each time, as it must be), and the hub calibrates them together
(`twinlab.network.calibrate_packets`). Reported:

- recovery: the share of (release, site, rate) whose posterior mean is within 20% of the site's truth (target: all),
  and the same for each site's inbox minutes per provider-day (its truth: the site's rows, unclamped);
- coverage: the share whose 90% interval holds the truth (target: 0.90; with n intervals the binomial 95% range is
  printed beside it), for the rates and for the minutes;
- the width of the 90% interval of each rate (and of the minutes), relative to its mean, for epsilon from 0.1 to 10, beside the
  raw-data calibration of the rates of the same sites (`twinlab.submodels.arrivals_model`, the negative-binomial fit of the rows);
  written to DIR/privacy_width.png and DIR/privacy_width.csv;
- speed: seconds per release and per network calibration, beside the seconds to load a site's data (the reference).

Usage: python -m bench.bench_privacy [--sites 10] [--days 364] [--repeats 5] [--out DIR] (DIR defaults to a folder in the
system's temporary directory). `make bench` runs it with these defaults."""
import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats as st

from twinlab.clinic import Clinic
from twinlab.data import load_clinic
from twinlab.model import make_plan
from twinlab.network import MINUTES_PARAM, calibrate_packets, site_minutes, site_truth
from twinlab.params import default_space
from twinlab.release import release, write_packet
from twinlab.schema import MESSAGE_TYPES
from twinlab.submodels import arrivals_model, inbox_counts
from twinlab.synth import virtual_clinic

EPSILONS = (0.1, 0.3, 1.0, 3.0, 10.0)


def make_sites(work: Path, n: int, days: int) -> dict:
    "n virtual clinics with message rates and minutes drawn from the prior; name -> (path, loaded data, truth, seconds to load)"
    space, sites, seeds = default_space(), {}, iter(range(100, 1000))
    for i in range(n):
        clinic = dataclasses.replace(Clinic.example(), name=f"Site {i + 1:02d}")
        while True:
            seed = next(seeds)
            truth = {**space.centre(), **{k: float(v[0]) for k, v in space.sample(1, seed=seed).items() if k.startswith(("msg_rate_", "msg_minutes_"))}}
            try:
                virtual_clinic(work / f"site{i}", clinic, truth=truth, seed=seed, days=days)
                break
            except ValueError as e:   # twinlab.synth fails on some seeds (placing audit events); say so and take the next seed
                print(f"twinlab.synth.virtual_clinic failed for seed {seed} ({type(e).__name__}: {e}); next seed", flush=True)
        t = time.perf_counter()
        data = load_clinic(work / f"site{i}")
        sites[clinic.name] = (work / f"site{i}", data, {**site_truth(work / f"site{i}"), MINUTES_PARAM: site_minutes(data)}, time.perf_counter() - t)
    return sites


def network_run(sites: dict, work: Path, epsilon: float, unit: str) -> tuple[pd.DataFrame, float, float]:
    "One release per site and one network calibration: per (site, param) the estimate, interval and truth; seconds of each step"
    t = time.perf_counter()
    packets = [write_packet(release(data, epsilon, unit=unit), work / f"{name}.json") for name, (_, data, _, _) in sites.items()]
    released = (time.perf_counter() - t) / len(sites)
    t = time.perf_counter()
    ds = calibrate_packets(packets)
    calibrated = time.perf_counter() - t
    df = ds[["mean", "q05", "q95"]].to_dataframe().reset_index()
    df["truth"] = [sites[s][2][p] for s, p in zip(df["site"], df["param"])]
    return df, released, calibrated


def raw_widths(sites: dict) -> pd.DataFrame:
    "The raw-data calibration's 90% interval width / mean of each site's rates (arrivals_model on the inbox rows)"
    rows = []
    for name, (_, data, _, _) in sites.items():
        plan = make_plan(data.clinic)
        draws = arrivals_model(inbox_counts(data.tables["inbox"], data.clinic, len(plan.dates)), data.clinic, plan, 4000,
                               np.random.default_rng(1)).draws
        for t in MESSAGE_TYPES:
            d = draws[f"msg_rate_{t}"]
            rows.append({"site": name, "param": f"msg_rate_{t}", "width": (np.quantile(d, 0.95) - np.quantile(d, 0.05)) / d.mean()})
    return pd.DataFrame(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--days", type=int, default=364)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "twinlab-bench-privacy"), help="folder of the chart and the table")
    args = ap.parse_args(argv)
    os.environ.setdefault("TWINLAB_SALT", "bench-privacy-salt-0123456789")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        os.environ["TWINLAB_LEDGER"] = str(work / "ledger.jsonl")   # the bench's releases spend no real budget
        sites = make_sites(work, args.sites, args.days)
        load_s = np.mean([s[3] for s in sites.values()])
        for unit in ("period", "week"):
            runs = [network_run(sites, work, 1.0, unit) for _ in range(args.repeats)]
            df = pd.concat([r[0] for r in runs])
            for what, part in (("rates", df[df["param"] != MINUTES_PARAM]), ("minutes per provider-day", df[df["param"] == MINUTES_PARAM])):
                err = (part["mean"] / part["truth"] - 1).abs()
                inside = (part["q05"] <= part["truth"]) & (part["truth"] <= part["q95"])
                lo, hi = st.binom.ppf([0.025, 0.975], len(part), 0.9) / len(part)
                print(f"epsilon 1, per {unit}, {what}: {len(part)} estimates ({args.sites} sites x {part['param'].nunique()} x {args.repeats} releases); "
                      f"within 20% of the truth: {(err < 0.2).mean():.1%} (worst {err.max():.1%}, median {err.median():.1%}); "
                      f"90% intervals holding the truth: {inside.mean():.1%} (binomial 95% range at the nominal 90%: {lo:.1%}-{hi:.1%})")
                if what == "rates": print(f"  by type: " + ", ".join(f"{p}: {g.mean():.0%}" for p, g in inside.groupby(part["param"].to_numpy())))
            print(f"  seconds per release {np.mean([r[1] for r in runs]):.2f} (loading a site's data: {load_s:.2f}, ratio "
                  f"{np.mean([r[1] for r in runs]) / load_s:.2f}); network calibration of {args.sites} sites {np.mean([r[2] for r in runs]):.2f} s")
        rows = []
        for eps in EPSILONS:
            for unit in ("period", "week"):
                df, _, _ = network_run(sites, work, eps, unit)
                width = (df["q95"] - df["q05"]) / df["mean"]
                rows.append({"epsilon": eps, "unit": unit, "width": float(width[df["param"] != MINUTES_PARAM].mean()),
                             "minutes_width": float(width[df["param"] == MINUTES_PARAM].mean())})
        widths = pd.DataFrame(rows)
        raw = float(raw_widths(sites)["width"].mean())
    widths.to_csv(out / "privacy_width.csv", index=False)
    print("mean 90% interval width / rate, over sites and types (width), and of the minutes per provider-day (minutes_width):")
    print(widths.pivot(index="epsilon", columns="unit", values=["width", "minutes_width"]).round(3).to_string())
    print(f"raw-data calibration (arrivals_model on the rows): {raw:.3f}")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for unit, g in widths.groupby("unit"):
        line, = ax.plot(g["epsilon"], g["width"], marker="o", label=f"rates from packets, per {unit}")
        ax.plot(g["epsilon"], g["minutes_width"], marker="s", ls=":", color=line.get_color(), label=f"minutes per provider-day, per {unit}")
    ax.axhline(raw, color="k", ls="--", label="rates from the raw rows (arrivals_model)")
    ax.set(xscale="log", yscale="log", xlabel="epsilon of each release", ylabel="90% interval width / mean",
           title=f"Message rates and inbox minutes of {args.sites} sites: the price of privacy")
    ax.legend(fontsize=8)
    fig.savefig(out / "privacy_width.png", bbox_inches="tight", dpi=120)
    print(f"written: {out / 'privacy_width.png'}, {out / 'privacy_width.csv'}")


if __name__ == "__main__":
    main()
