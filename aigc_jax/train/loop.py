"""The generic training loop: any `Task`, one jitted step, checkpoints, logs, grids.

`train_and_evaluate(config, workdir)` is what `aigc train` calls. It resumes from the
latest checkpoint in `workdir/checkpoints` when there is one. The key of step `s` is
`fold_in(stream_key(seed, "step"), s)` and the batch of step `s` is a pure function of
(seed, s), so a resumed run ends bit-for-bit where an uninterrupted one would.

SIGINT and SIGTERM stop after the current step, save a checkpoint and raise
`Interrupted`; a second signal exits at once (`aigc_jax.train.interrupts`). Host syncs
happen only at `log_every`, `sample_every` and checkpoints.

Across processes (`aigc_jax.distributed`) every process runs this same loop, the same
programs in the same order: each feeds its rows of the global batch, all save the
checkpoint (orbax, one shared folder), and only process 0 holds the workdir's lock and
writes config.json, metrics.jsonl, TensorBoard events, grids and the progress bar.
Logged values are replicated outputs, the same on every process. A signal to one
process stops all of them at the next log step, with one consistent checkpoint.
"""

import contextlib
import os
import signal
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from aigc_jax import configlib, distributed, images
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
  is_main = distributed.is_main()
  with _main_lock(workdir, is_main), interrupts.StopRequest() as stop:
    resuming = _has_checkpoint(workdir)
    if resuming and os.path.exists(os.path.join(workdir, "config.json")):
      workdir_lib.check_resume(configlib.config_from_workdir(workdir), config, workdir, warn=is_main)
    ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"), opts.run.keep_checkpoints)
    try:
      if is_main:
        ckpt.remove_temporary()
      distributed.sync("aigc_train_start")  # No process looks at checkpoints while one cleans.
      state = ckpt.restore(abstract_state(task, opts, mesh)) if resuming else init_state(task, opts, mesh)
      if is_main:
        workdir_lib.save_config(config, workdir)
      return _train(task, opts, state, ckpt, stop, workdir, mesh, progress and is_main, is_main)
    finally:
      ckpt.close()


@contextlib.contextmanager
def _main_lock(workdir: str, is_main: bool):
  """The workdir's lock, held by process 0 for the whole run (the one process that writes
  its files; a second run on the same workdir meets it there); a refusal is raised on
  every process, so none goes on alone."""
  lock, message = contextlib.nullcontext(), None
  if is_main:
    lock = workdir_lib.Lock(workdir)
    try:
      lock.__enter__()
    except UserError as e:
      lock, message = contextlib.nullcontext(), str(e)
  try:
    distributed.broadcast_error(message)
    yield
  finally:
    lock.__exit__(None, None, None)


class _Stop:
  """Whether to stop after this step. Alone: as soon as a signal arrived. Across
  processes, a signal reaches one process, but all must stop at the same step (a save
  is a collective): they agree at each log step, so a signal on any process stops them
  all there, each saving the same checkpoint."""

  def __init__(self, request, log_every: int):
    self.request, self.log_every = request, log_every
    self.multiprocess = distributed.is_multiprocess()
    self.agreed = False

  def after(self, step: int) -> bool:
    if not self.multiprocess:
      return self.request.requested
    if step % self.log_every == 0:
      self.agreed = distributed.agree(self.request.requested)
    return self.agreed

  @property
  def stopped(self) -> bool:
    """Whether `after` has said stop (alone: also a signal during the last step)."""
    return self.agreed if self.multiprocess else self.request.requested

  def interrupted(self, step: int, num_steps: int) -> Interrupted:
    if self.request.requested:
      name = signal.Signals(self.request.signum).name
      return Interrupted(self.request.signum, f"interrupted ({name}) at step {step} of {num_steps}; checkpoint "
                                              f"saved, resumable: run the same command to continue")
    return Interrupted(signal.SIGTERM, f"stopped at step {step} of {num_steps} because another process was "
                                       f"interrupted; checkpoint saved, resumable: run the same command to continue")


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
  stopping = _Stop(stop, run.log_every)
  try:
    while step < run.num_steps and not stopping.after(step):
      batch = sharding.shard_batch(next(batches), mesh)
      key = jax.random.fold_in(base_key, step)
      if step == start:
        step_fn = distributed.compile_then_sync(step_fn, state, batch, key, name="train_step")
      state, metrics = step_fn(state, batch, key)
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
    if stopping.stopped:
      ckpt.wait()
      if step > start:
        _save(ckpt, step, state)
        ckpt.wait()
      raise stopping.interrupted(step, run.num_steps)
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
