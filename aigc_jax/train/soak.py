"""A seeded kill -9 soak of `aigc train`: kill runs at random moments, resume, compare.

  report = soak.run_soak("/tmp/soak", trials=30, seed=0)   # what scripts/soak.py runs

One uninterrupted reference run first; then, per trial, a fresh workdir: `aigc train`
is started, killed with SIGKILL (no handler runs, as in a power cut or the OOM killer)
either at a random time within the reference run's duration (start-up, steps, grids,
saves alike) or, for a share of the trials, a random 0-50 ms after a randomly chosen
checkpoint save has begun (its temporary orbax folder has appeared), then the same
command is run again to the end. A trial passes when the resumed command exits 0 and
the final checkpoint's arrays and `metrics.jsonl` equal the reference's bit for bit.
Every run shares one XLA compilation cache, so only the reference run compiles.
Results: docs/reliability.md.
"""

import dataclasses
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

# The smoke DCGAN, long enough to hold several saves and logs.
CONFIG = "dcgan_digits:smoke"
OVERRIDES = {"num_steps": 40, "checkpoint_every": 5, "log_every": 5, "sample_every": 10}
MAX_ATTEMPTS = 3


@dataclasses.dataclass
class Trial:
  index: int
  target: str  # "time": killed at `kill_at` s; "save": during the `save_number`-th save.
  kill_at: float  # Seconds after the start at which SIGKILL was sent (or planned).
  save_number: int
  killed: bool = False  # False: the run had ended before the kill.
  during_save: bool = False  # A temporary checkpoint folder existed when it was killed.
  latest_at_kill: int | None = None  # The latest complete checkpoint then.
  resume_rc: int | None = None
  state_equal: bool = False
  metrics_equal: bool = False
  error: str = ""
  attempts: int = 1  # Runs started until one was killed (one that ended first is redone).

  @property
  def ok(self) -> bool:
    return self.resume_rc == 0 and self.state_equal and self.metrics_equal


def train_command(workdir: str, config: str = CONFIG, overrides=None) -> list[str]:
  overrides = OVERRIDES if overrides is None else overrides
  return [sys.executable, "-m", "aigc_jax.cli.main", "train", "--config", config, "--workdir", workdir,
          *(f"--config.{k}={v}" for k, v in overrides.items())]


def _saving(workdir: str) -> bool:
  return bool(glob.glob(os.path.join(workdir, "checkpoints", "*.orbax-checkpoint-tmp*")))


def _latest(workdir: str):
  folder = os.path.join(workdir, "checkpoints")
  steps = [int(n) for n in os.listdir(folder) if n.isdigit()] if os.path.isdir(folder) else []
  return max(steps, default=None)


def _start(command, log_path, env):
  log = open(log_path, "ab")
  return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), log


def _kill_run(trial: Trial, command, workdir, log_path, env, rng: random.Random) -> float:
  """Starts the run and SIGKILLs it as `trial` says; records what it hit. Returns the
  seconds it ran."""
  process, log = _start(command, log_path, env)
  start, seen = time.monotonic(), set()
  try:
    while process.poll() is None:
      if trial.target == "save":
        seen.update(glob.glob(os.path.join(workdir, "checkpoints", "*.orbax-checkpoint-tmp*")))
        if len(seen) >= trial.save_number:
          time.sleep(rng.uniform(0, 0.05))
          break
      elif time.monotonic() - start >= trial.kill_at:
        break
      time.sleep(0.002)
    if process.poll() is None:
      trial.during_save = _saving(workdir)
      trial.latest_at_kill = _latest(workdir)
      process.send_signal(signal.SIGKILL)
      trial.killed = True
      trial.kill_at = time.monotonic() - start
    process.wait()
  finally:
    log.close()
  return time.monotonic() - start


def final_arrays(workdir: str, step: int) -> dict:
  """{path: numpy array} of checkpoint `step`, restored as saved (no target needed)."""
  import jax
  import orbax.checkpoint as ocp
  from absl import logging
  logging.set_verbosity(logging.ERROR)  # Orbax's notes on read-only managers.
  manager = ocp.CheckpointManager(os.path.abspath(os.path.join(workdir, "checkpoints")),
                                  options=ocp.CheckpointManagerOptions(read_only=True))
  try:
    tree = manager.restore(step, args=ocp.args.StandardRestore())
  finally:
    manager.close()
  out = {}
  for path, value in jax.tree_util.tree_leaves_with_path(tree):
    if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
      value = jax.random.key_data(value)
    out[jax.tree_util.keystr(path)] = np.asarray(value)
  return out


def same_arrays(a: dict, b: dict) -> bool:
  return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)


def read_metrics(workdir: str) -> list:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f if line.strip()]


def run_soak(root: str, trials: int = 30, seed: int = 0, save_share: float = 0.3, config: str = CONFIG,
             overrides=None, log=print) -> dict:
  """Runs the soak in folder `root` (emptied first); returns the report (a dict)."""
  overrides = OVERRIDES if overrides is None else overrides
  shutil.rmtree(root, ignore_errors=True)
  os.makedirs(root)
  env = dict(os.environ)
  env.setdefault("AIGC_JAX_CACHE_DIR", os.path.join(root, "xla_cache"))
  rng = random.Random(seed)
  t0, load_before = time.monotonic(), os.getloadavg()

  reference = os.path.join(root, "reference")
  start = time.monotonic()
  rc = subprocess.run(train_command(reference, config, overrides), env=env, capture_output=True).returncode
  duration = time.monotonic() - start
  if rc != 0:
    raise RuntimeError(f"the reference run failed (exit {rc})")
  num_steps = int(overrides["num_steps"])
  num_saves = max(1, num_steps // int(overrides["checkpoint_every"]))
  want_state, want_metrics = final_arrays(reference, num_steps), read_metrics(reference)
  log(f"reference: {duration:.1f} s, {len(want_state)} arrays, {len(want_metrics)} metric records")

  results = []
  for index in range(trials):
    trial = Trial(index, "save" if rng.random() < save_share else "time", rng.uniform(0, duration),
                  rng.randint(1, num_saves))
    workdir, log_path = os.path.join(root, f"trial_{index:03d}"), os.path.join(root, f"trial_{index:03d}.log")
    command = train_command(workdir, config, overrides)
    for attempt in range(1, MAX_ATTEMPTS + 1):
      trial.attempts = attempt
      ran = _kill_run(trial, command, workdir, log_path, env, rng)
      if trial.killed or attempt == MAX_ATTEMPTS:
        break
      # It ended before the kill (the machine got faster, or the polling missed saves):
      # afresh, at a moment drawn within the time it took.
      duration = ran
      trial.target, trial.kill_at = "time", rng.uniform(0, duration)
      shutil.rmtree(workdir, ignore_errors=True)
    resumed, log_file = _start(command, log_path, env)
    trial.resume_rc = resumed.wait()
    log_file.close()
    try:
      trial.state_equal = same_arrays(final_arrays(workdir, num_steps), want_state)
      trial.metrics_equal = read_metrics(workdir) == want_metrics
    except Exception as e:  # A missing checkpoint or file is this trial's failure, reported.
      trial.error = f"{type(e).__name__}: {e}"[:200]
    if trial.resume_rc != 0 and not trial.error:
      with open(log_path, errors="replace") as f:
        trial.error = f.read().strip().splitlines()[-1][:200]
    results.append(trial)
    target = f"save {trial.save_number}" if trial.target == "save" else "time"
    log(f"trial {index:2d}: {target:6s} kill at {trial.kill_at:5.1f} s "
        f"({'during a save' if trial.during_save else 'killed' if trial.killed else 'after the end'}, "
        f"latest checkpoint {trial.latest_at_kill}, run {trial.attempts}); resume exit {trial.resume_rc}, "
        f"state {'equal' if trial.state_equal else 'DIFFERS'}, metrics {'equal' if trial.metrics_equal else 'DIFFER'}"
        + (f"; {trial.error}" if trial.error else ""))

  report = {
      "trials": trials, "failures": sum(not t.ok for t in results), "all_equal": all(t.ok for t in results),
      "killed": sum(t.killed for t in results), "killed_during_save": sum(t.during_save for t in results),
      "reference_seconds": round(duration, 1), "wall_seconds": round(time.monotonic() - t0, 1),
      "load_before": [round(x, 1) for x in load_before], "load_after": [round(x, 1) for x in os.getloadavg()],
      "seed": seed, "config": config, "overrides": dict(overrides),
      "results": [dataclasses.asdict(t) for t in results]}
  with open(os.path.join(root, "report.json"), "w") as f:
    json.dump(report, f, indent=1)
  return report
