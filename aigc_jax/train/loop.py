"""The generic training loop: any `Task`, one jitted step, checkpoints, logs, grids.

`train_and_evaluate(config, workdir)` is what `aigc train` calls. It resumes from the
latest checkpoint in `workdir/checkpoints` when there is one. The key of step `s` is
`fold_in(key(seed), s)` and the batch of step `s` is a pure function of (seed, s), so a
resumed run ends bit-for-bit where an uninterrupted one would.

Ctrl-C (SIGINT) stops after the current step and saves a checkpoint; a second Ctrl-C
aborts at once. Host syncs happen only at `log_every`, `sample_every` and checkpoints.
"""

import json
import os
import signal
import time

import jax
import numpy as np
from tqdm import tqdm

from aigc_jax import images
from aigc_jax.errors import UserError
from aigc_jax.train import checkpoint, sharding, writer as writer_lib
from aigc_jax.train.task import get_task

_STEP_STREAM = 1  # fold_in stream for per-step keys (gan.py uses 0 for init, 2 for grids).


def prepare_workdir(workdir: str):
  """Creates `workdir` and checks that it is writable, with a one-line error if not."""
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, f".write_test_{os.getpid()}")
    with open(probe, "w") as f:
      f.write("ok")
    os.remove(probe)
  except OSError as e:
    raise UserError(f"cannot write to workdir {workdir!r}: {e.strerror or e}") from e


def save_config(config, workdir: str):
  path = os.path.join(workdir, "config.json")
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    f.write(config.to_json_best_effort(indent=2, sort_keys=True) + "\n")
  os.replace(tmp, path)


def init_state(task, config, mesh):
  """The freshly initialised state, placed replicated on the mesh."""
  init_key = jax.random.key(config.seed)
  return jax.jit(lambda k: task.init_state(config, k), out_shardings=sharding.replicated(mesh))(init_key)


def restore_run(workdir: str, check=None, *, task: str | None = None, needs: str = ""):
  """(config, task, state) of the latest checkpoint of a training workdir.

  A command that needs one kind of run names it: `task` (a UserError "<workdir> is a
  '<its task>' run; <needs>" for any other), or `check(config)` for a finer test that
  raises its own UserError. Both run before anything is read from the checkpoint. A
  workdir without a checkpoint, or whose checkpoint does not fit its config, is a
  UserError.
  """
  from aigc_jax import configlib
  config = configlib.config_from_workdir(workdir)
  if task is not None and config.get("task") != task:
    raise UserError(f"{workdir!r} is a {config.get('task')!r} run; {needs}")
  if check is not None:
    check(config)
  ckpt = checkpoint.open_for_reading(workdir)
  task = get_task(config.task)
  try:
    state = ckpt.restore(init_state(task, config, sharding.make_mesh()))
  finally:
    ckpt.close()
  return config, task, state


def compile_train_step(task, config, mesh):
  """The task's train step, jitted with shardings and the state's buffers donated."""
  rep, data = sharding.replicated(mesh), sharding.data_sharded(mesh)
  return jax.jit(task.make_train_step(config), in_shardings=(rep, data, rep),
                 out_shardings=(rep, rep), donate_argnums=(0,))


class _StopRequest:
  """Turns the first SIGINT into a request to stop at the next step boundary."""

  def __init__(self):
    self.requested = False
    self._previous = None

  def __enter__(self):
    def handler(signum, frame):
      if self.requested:  # Second Ctrl-C: give up on a clean stop.
        raise KeyboardInterrupt
      self.requested = True
    try:
      self._previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # Not the main thread: leave Ctrl-C as it is.
      self._previous = None
    return self

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGINT, self._previous)


def train_and_evaluate(config, workdir: str, mesh=None, progress: bool = True):
  """Trains `config` in `workdir` (resuming if possible); returns the final state."""
  prepare_workdir(workdir)
  task = get_task(config.task)
  mesh = mesh or sharding.make_mesh()
  sharding.check_batch_size(config.batch_size, mesh)
  is_main = jax.process_index() == 0
  if is_main:
    save_config(config, workdir)

  state = init_state(task, config, mesh)
  ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"), config.get("keep_checkpoints", 3))
  if ckpt.latest_step() is not None:
    state = ckpt.restore(state)
  start = int(jax.device_get(state.step))
  metric_writer = writer_lib.MetricWriter(workdir, resume_step=start, enabled=is_main)
  if start >= config.num_steps:
    metric_writer.close()
    ckpt.close()
    return state

  step_fn = compile_train_step(task, config, mesh)
  base_key = jax.random.fold_in(jax.random.key(config.seed), _STEP_STREAM)
  batches = task.train_batches(config, start)
  bar = tqdm(total=config.num_steps, initial=start, desc="train", unit="step", dynamic_ncols=True,
             disable=not (progress and is_main), mininterval=1.0)
  t_start, first_step_s = time.perf_counter(), None
  step = start
  try:
    with _StopRequest() as stop:
      while step < config.num_steps and not stop.requested:
        batch = sharding.shard_batch(next(batches), mesh)
        state, metrics = step_fn(state, batch, jax.random.fold_in(base_key, step))
        step += 1
        if first_step_s is None:
          jax.block_until_ready(state)
          first_step_s = time.perf_counter() - t_start
        last = step == config.num_steps
        if step % config.log_every == 0 or last:
          scalars = jax.device_get(metrics)
          metric_writer.write_scalars(step, scalars)
          bar.set_postfix({k: f"{float(v):.3f}" for k, v in scalars.items()}, refresh=False)
        if step % config.sample_every == 0 or last:
          _write_grid(task, config, state, workdir, step, metric_writer, is_main)
        if step % config.checkpoint_every == 0 or last:
          ckpt.save(step, state)
        bar.update(1)
      if stop.requested and step < config.num_steps:
        ckpt.save(step, state, force=True)
        bar.write(f"stopped at step {step}; checkpoint saved, run the same command to resume")
  finally:
    bar.close()
    ckpt.wait()
    ckpt.close()
    metric_writer.close()
  if is_main and progress and first_step_s is not None:
    elapsed = time.perf_counter() - t_start
    print(f"trained steps {start}..{step} in {elapsed:.1f}s (first step incl. compile {first_step_s:.1f}s); "
          f"workdir {workdir}")
  return state


def _write_grid(task, config, state, workdir, step, metric_writer, is_main):
  samples, ncols = task.sample_grid(config, state)
  if is_main:
    grid = images.save_grid(samples, os.path.join(workdir, "samples", f"step_{step:07d}.png"), ncols=ncols)
    metric_writer.write_image(step, "samples", grid)
    metric_writer.flush()
