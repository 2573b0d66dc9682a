"""The generic training loop: any `Task`, one jitted step, checkpoints, logs, grids.

`train_and_evaluate(config, workdir)` is what `aigc train` calls. It resumes from the
latest checkpoint in `workdir/checkpoints` when there is one. The key of step `s` is
`fold_in(key(seed), s)` and the batch of step `s` is a pure function of (seed, s), so a
resumed run ends bit-for-bit where an uninterrupted one would.

Ctrl-C (SIGINT) stops after the current step and saves a checkpoint; a second Ctrl-C
aborts at once. Host syncs happen only at `log_every`, `sample_every` and checkpoints.
"""

import os
import signal
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from aigc_jax import images
from aigc_jax.errors import UserError
from aigc_jax.train import checkpoint, keys, sharding, writer as writer_lib
from aigc_jax.train.task import parse_config


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


def init_state(task, opts, mesh):
  """The freshly initialised state, placed replicated on the mesh."""
  init = lambda k: task.init_state(opts, k)
  return jax.jit(init, out_shardings=sharding.replicated(mesh))(keys.stream_key(opts.run.seed, "init"))


def abstract_state(task, opts, mesh):
  """The state's structure, shapes, dtypes and shardings, without computing it: what a
  checkpoint restores into (no random initialisation thrown away)."""
  shapes = jax.eval_shape(lambda k: task.init_state(opts, k), keys.stream_key(opts.run.seed, "init"))
  rep = sharding.replicated(mesh)
  return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=rep), shapes)


def compile_train_step(task, opts, mesh):
  """The task's train step, jitted with shardings and the state's buffers donated."""
  rep, data = sharding.replicated(mesh), sharding.data_sharded(mesh)
  return jax.jit(task.make_train_step(opts), in_shardings=(rep, data, rep),
                 out_shardings=(rep, rep), donate_argnums=(0,))


@jax.jit
def _accumulate(sums, count, metrics):
  """Adds a step's metrics to the logging window's sums (a separate program, so the
  train step itself is the task's, unchanged)."""
  return jax.tree.map(lambda s, m: s + m.astype(jnp.float32), sums, metrics), count + 1


def _zeros_like(tree):
  return jax.tree.map(lambda x: jnp.zeros(x.shape, jnp.float32), tree)


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
  """Trains `config` in `workdir` (resuming if possible); returns the final state.

  The config is parsed and checked before anything is written. Logged scalars are the
  means over the steps since the previous log.
  """
  task, opts = parse_config(config)
  run = opts.run
  prepare_workdir(workdir)
  mesh = mesh or sharding.make_mesh()
  sharding.check_batch_size(run.batch_size, mesh)
  is_main = jax.process_index() == 0
  if is_main:
    save_config(config, workdir)

  ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"), run.keep_checkpoints)
  if ckpt.latest_step() is not None:
    state = ckpt.restore(abstract_state(task, opts, mesh))
  else:
    state = init_state(task, opts, mesh)
  start = int(jax.device_get(state.step))
  metric_writer = writer_lib.MetricWriter(workdir, resume_step=start, enabled=is_main)
  if start >= run.num_steps:
    metric_writer.close()
    ckpt.close()
    return state

  step_fn = compile_train_step(task, opts, mesh)
  base_key = keys.stream_key(run.seed, "step")
  batches = task.train_batches(opts, start)
  bar = tqdm(total=run.num_steps, initial=start, desc="train", unit="step", dynamic_ncols=True,
             disable=not (progress and is_main), mininterval=1.0)
  t_start, first_step_s = time.perf_counter(), None
  step = start
  sums = count = None
  try:
    with _StopRequest() as stop:
      while step < run.num_steps and not stop.requested:
        batch = sharding.shard_batch(next(batches), mesh)
        state, metrics = step_fn(state, batch, jax.random.fold_in(base_key, step))
        if sums is None:
          sums, count = _zeros_like(metrics), jnp.zeros((), jnp.int32)
        sums, count = _accumulate(sums, count, metrics)
        step += 1
        if first_step_s is None:
          jax.block_until_ready(state)
          first_step_s = time.perf_counter() - t_start
        last = step == run.num_steps
        if step % run.log_every == 0 or last:
          totals, n = jax.device_get((sums, count))
          scalars = {k: np.float32(v / n) for k, v in totals.items()}
          sums = None
          metric_writer.write_scalars(step, scalars)
          bar.set_postfix({k: f"{float(v):.4g}" for k, v in scalars.items()}, refresh=False)
        if step % run.sample_every == 0 or last:
          _write_grid(task, opts, state, workdir, step, metric_writer, is_main)
        if step % run.checkpoint_every == 0 or last:
          ckpt.save(step, state)
        bar.update(1)
      if stop.requested and step < run.num_steps:
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


def _write_grid(task, opts, state, workdir, step, metric_writer, is_main):
  samples, ncols = task.sample_grid(opts, state)
  if is_main:
    grid = images.save_grid(samples, os.path.join(workdir, "samples", f"step_{step:07d}.png"), ncols=ncols)
    metric_writer.write_image(step, "samples", grid)
    metric_writer.flush()
