"""The generic training loop: any `Task`, one jitted step, checkpoints, logs, grids.

`train_and_evaluate(config, workdir)` is what `aigc train` calls. It resumes from the
latest checkpoint in `workdir/checkpoints` when there is one. The key of step `s` is
`fold_in(stream_key(seed, "step"), s)` and the batch of step `s` is a pure function of
(seed, s), so a resumed run ends bit-for-bit where an uninterrupted one would.

SIGINT and SIGTERM stop after the current step, save a checkpoint and raise
`Interrupted`; a second signal exits at once (`aigc_jax.train.interrupts`). Host syncs
happen only at `log_every`, `sample_every` and checkpoints.
"""

import contextlib
import os
import signal
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from aigc_jax import configlib, images
from aigc_jax.errors import Interrupted, UserError
from aigc_jax.train import checkpoint, interrupts, keys, sharding, workdir as workdir_lib, writer as writer_lib
from aigc_jax.train.task import parse_config


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
def _accumulate(sums, finite, metrics):
  """Adds a step's metrics to the logging window's sums and ANDs in whether they are all
  finite: a separate program, so the train step itself is the task's, unchanged."""
  finite = finite & jnp.all(jnp.asarray([jnp.all(jnp.isfinite(m)) for m in jax.tree.leaves(metrics)]))
  return jax.tree.map(lambda s, m: s + m.astype(jnp.float32), sums, metrics), finite


@jax.jit
def all_finite(state) -> jax.Array:
  """Whether every floating-point leaf of the state is finite (one boolean)."""
  leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(state) if jnp.issubdtype(x.dtype, jnp.floating)]
  return jnp.all(jnp.asarray(leaves)) if leaves else jnp.asarray(True)


def _zeros_like(tree):
  return jax.tree.map(lambda x: jnp.zeros(x.shape, jnp.float32), tree)


def _has_checkpoint(workdir: str) -> bool:
  folder = os.path.join(workdir, "checkpoints")
  return os.path.isdir(folder) and any(name.isdigit() for name in os.listdir(folder))


def _diverged(what: str, step: int, ckpt) -> UserError:
  latest = ckpt.latest_step()
  where = (f"the last good checkpoint, step {latest}, is kept in {ckpt.directory}" if latest is not None
           else "no checkpoint was saved")
  return UserError(f"training diverged: non-finite {what} by step {step}; {where}; lower the learning "
                   f"rates (--config.optimizer...) and resume, or start a new --workdir")


def train_and_evaluate(config, workdir: str, mesh=None, progress: bool = True):
  """Trains `config` in `workdir` (resuming if possible); returns the final state.

  Everything is checked before anything is written: the config (parsed once), the
  workdir (writable; held by no other trainer: `workdir.Lock`), and on a resume that
  the config does not change what the run is (`workdir.check_resume`). Logged scalars
  are the means over the steps since the previous log (a window cut by a resume starts
  at the resume). Non-finite losses (checked at each log) or parameters (checked before
  each save) stop the run with a UserError naming the last good checkpoint, which is
  never replaced by a non-finite one. SIGINT or SIGTERM saves and raises `Interrupted`.
  """
  task, opts = parse_config(config)
  mesh = mesh or sharding.make_mesh()
  sharding.check_batch_size(opts.run.batch_size, mesh)
  workdir_lib.prepare(workdir)
  is_main = jax.process_index() == 0
  lock = workdir_lib.Lock(workdir) if is_main else contextlib.nullcontext()
  with lock, interrupts.StopRequest() as stop:
    resuming = _has_checkpoint(workdir)
    if resuming and os.path.exists(os.path.join(workdir, "config.json")):
      workdir_lib.check_resume(configlib.config_from_workdir(workdir), config, workdir)
    ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"), opts.run.keep_checkpoints)
    try:
      ckpt.remove_temporary()
      state = ckpt.restore(abstract_state(task, opts, mesh)) if resuming else init_state(task, opts, mesh)
      if is_main:
        workdir_lib.save_config(config, workdir)
      return _train(task, opts, state, ckpt, stop, workdir, mesh, progress and is_main, is_main)
    finally:
      ckpt.close()


def _train(task, opts, state, ckpt, stop, workdir, mesh, progress, is_main):
  """The loop proper, from the restored or fresh `state` to `num_steps`."""
  run = opts.run
  start = step = int(jax.device_get(state.step))
  metric_writer = writer_lib.MetricWriter(workdir, resume_step=start, enabled=is_main)
  if start >= run.num_steps:
    metric_writer.close()
    return state
  step_fn = compile_train_step(task, opts, mesh)
  base_key = keys.stream_key(run.seed, "step")
  batches = task.train_batches(opts, start)
  bar = tqdm(total=run.num_steps, initial=start, desc="train", unit="step", dynamic_ncols=True,
             disable=not progress, mininterval=1.0)
  t_start, first_step_s = time.perf_counter(), None
  sums = finite = None
  window = 0
  try:
    while step < run.num_steps and not stop.requested:
      batch = sharding.shard_batch(next(batches), mesh)
      state, metrics = step_fn(state, batch, jax.random.fold_in(base_key, step))
      if sums is None:
        sums, finite, window = _zeros_like(metrics), jnp.asarray(True), 0
      sums, finite = _accumulate(sums, finite, metrics)
      step += 1
      window += 1
      if first_step_s is None:
        jax.block_until_ready(state)
        first_step_s = time.perf_counter() - t_start
      last = step == run.num_steps
      if step % run.log_every == 0 or last:
        totals, ok = jax.device_get((sums, finite))
        if not ok:
          raise _diverged("losses", step, ckpt)
        scalars = {k: np.float32(v / window) for k, v in totals.items()}
        sums = None
        metric_writer.write_scalars(step, scalars)
        bar.set_postfix({k: f"{float(v):.4g}" for k, v in scalars.items()}, refresh=False)
      if step % run.sample_every == 0 or last:
        _write_grid(task, opts, state, workdir, step, metric_writer, is_main)
      if step % run.checkpoint_every == 0 or last:
        _save(ckpt, step, state)
      bar.update(1)
    if stop.requested:
      ckpt.wait()
      if step > start:
        _save(ckpt, step, state)
        ckpt.wait()
      name = signal.Signals(stop.signum).name
      raise Interrupted(stop.signum, f"interrupted ({name}) at step {step} of {run.num_steps}; checkpoint saved, "
                                     f"resumable: run the same command to continue")
  finally:
    bar.close()
    ckpt.wait()
    metric_writer.close()
  if progress and first_step_s is not None:
    elapsed = time.perf_counter() - t_start
    print(f"trained steps {start}..{step} in {elapsed:.1f}s (first step incl. compile {first_step_s:.1f}s); "
          f"workdir {workdir}")
  return state


def _save(ckpt, step, state):
  """Saves a finite state; a non-finite one is never saved (nor prunes a good one)."""
  if not bool(all_finite(state)):
    raise _diverged("parameters", step, ckpt)
  ckpt.save(step, state)


def _write_grid(task, opts, state, workdir, step, metric_writer, is_main):
  samples, ncols = task.sample_grid(opts, state)
  if is_main:
    grid = images.save_grid(samples, os.path.join(workdir, "samples", f"step_{step:07d}.png"), ncols=ncols)
    metric_writer.write_image(step, "samples", grid)
    metric_writer.flush()
