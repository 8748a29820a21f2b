"""Cost of scenario runs (`twinlab.scenarios`) on the example clinic (8 providers):

- 10 scenarios x 200 posterior draws x 8 weeks with `run_scenarios` (the baseline and the 10 scenarios, 11 simulations of
  200 draws, plus the per-session-day summaries); target <= 10 s. Reference measured in the same run: the 11 bare
  `simulate` calls alone, so the ratio is what the scenario machinery (levers, support, summaries) adds.
- One update of the what-if app (apps/whatif.ipynb) with its 40 draws: `WhatIf.compare` of a scenario, its summary and
  P(target met) table, and the app's fan chart (two panels, baseline and scenario bands) drawn to a canvas; target <= 1 s.

The draws come from the prior (`Posterior.from_prior`): the cost does not depend on where they come from. Wall-clock
figures depend on what else runs on the machine: the load average is printed before each run."""
import os
import time

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

from twinlab.clinic import Clinic
from twinlab.core import child_seeds
from twinlab.model import simulate
from twinlab.params import default_space
from twinlab.posterior import Posterior
from twinlab.scenarios import WhatIf, run_scenarios

TARGET_SCENARIOS_S, TARGET_APP_S = 10, 1
SCENARIOS = {
    "pool_results": {"delegation": {"result": 0.8}}, "pool_patient": {"delegation": {"patient": 0.5}},
    "human_scribe": {"scribe_share": 0.5}, "ai_scribe": {"ai_scribe_share": 1.0}, "portal": {"message_rate": {"patient": 1.3}},
    "smaller_panels": {"panel_scale": 0.9}, "team_limit": {"delegation": {"result": 0.9}, "team_minutes_per_day": 300},
    "protected": {"protected_minutes": 30}, "longer_slots": {"template": {"slot_minutes": 30}}, "fewer_sessions": {"template": {"sessions_per_week": 8}},
}

clinic = Clinic.example()
post = Posterior.from_prior(default_space(clinic), 1000, seed=1)
run_scenarios(clinic, post, {"warm": {"scribe_share": 0.5, "team_minutes_per_day": 100}}, weeks=1, draws=2, seed=0)  # compile the kernel


def timed(f):
    "Wall seconds, CPU seconds (all threads) and load average before running f()"
    load, t0, c0 = os.getloadavg()[0], time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - t0, time.process_time() - c0, load


theta = post.sample(200, child_seeds(2, 2)[0], providers=clinic.providers)
reference = timed(lambda: [simulate(clinic, theta, days=56, seed=3) for _ in range(len(SCENARIOS) + 1)])
scenarios = timed(lambda: run_scenarios(clinic, post, SCENARIOS, {"ehr_outside_minutes": 45}, weeks=8, draws=200, seed=2))

session = WhatIf(clinic, post, weeks=8, draws=40, seed=1)
def app_update():
    sim, result = session.compare({"scribe_share": 0.3, "delegation": {"result": 0.8}}, {"ehr_outside_minutes": 45})
    result.summary("scenario"); result.p_target_met().to_pandas()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    for ax, v in zip(axes, ("ehr_minutes", "ehr_outside_minutes")):
        for run in (session.baseline, sim):
            q = run[v].sum("provider").quantile([0.05, 0.5, 0.95], "draw")
            ax.fill_between(run["date"].values, q[0], q[2], alpha=0.25); ax.plot(run["date"].values, q[1])
    fig.canvas.draw(); plt.close(fig)
app_update()
app = min((timed(app_update) for _ in range(3)), key=lambda r: r[0])

print(f"scenarios on {clinic.name} ({len(clinic.providers)} providers), {os.cpu_count()} CPUs")
rows = [(f"run_scenarios: {len(SCENARIOS)} scenarios x 200 draws x 8 weeks", scenarios, TARGET_SCENARIOS_S),
        (f"reference: {len(SCENARIOS) + 1} x simulate(200 draws, 56 days)", reference, None),
        ("what-if app: one update (40 draws, 8 weeks; best of 3)", app, TARGET_APP_S)]
for name, (wall, cpu, load), target in rows:
    verdict = "" if target is None else (f"target <= {target} s  " + ("ok" if wall <= target else "MISSED"))
    print(f"  {name:<62} {wall:6.2f} s wall ({cpu:6.2f} CPU-s, load before {load:.1f})  {verdict}".rstrip())
print(f"  ratio run_scenarios / bare simulations: {scenarios[0] / reference[0]:.2f}")
