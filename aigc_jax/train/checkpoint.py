"""Orbax checkpoints of a train state: save every few steps, keep the last few, resume.

Orbax writes each checkpoint into a temporary folder and renames it when complete, so a
crash or Ctrl-C during a save never leaves a half-written checkpoint behind as the latest.
"""

import glob
import os
import shutil

import jax
import numpy as np
import orbax.checkpoint as ocp

from aigc_jax.errors import UserError

# Headroom on top of the state's own size before a save is attempted: orbax's metadata,
# and the file system's blocks.
_HEADROOM = 1.5, 16 << 20


class Checkpointer:
  """A thin wrapper over `ocp.CheckpointManager` for one pytree (the train state)."""

  def __init__(self, directory: str, max_to_keep: int = 3, read_only: bool = False):
    self.directory = os.path.abspath(directory)
    # A reader must neither create the folder nor prune old checkpoints.
    options = ocp.CheckpointManagerOptions(
        max_to_keep=None if read_only else max_to_keep, create=not read_only)
    self._manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self):
    return self._manager.latest_step()

  def has_step(self, step: int) -> bool:
    return int(step) in self._manager.all_steps()

  def save(self, step: int, state, force: bool = False):
    """Saves `state` as checkpoint `step` (asynchronously), unless it already exists.

    A disk without room for it (checked first: a full disk makes the writer abort the
    process) or a failed write is a UserError; the earlier checkpoints stay as they
    were and no temporary folder is left behind.
    """
    if self.has_step(step):
      return
    self._check_space(state)
    try:
      self._manager.save(int(step), args=ocp.args.StandardSave(state), force=force)
    except (OSError, ValueError) as e:
      self._failed(step, e)

  def _check_space(self, state):
    needed = sum(np.dtype(x.dtype).itemsize * int(np.prod(x.shape)) for x in jax.tree.leaves(state))
    needed = int(needed * _HEADROOM[0]) + _HEADROOM[1]
    free = shutil.disk_usage(self.directory).free
    if free < needed:
      raise UserError(f"not enough disk space for a checkpoint in {self.directory} (needs about "
                      f"{needed >> 20} MiB, {free >> 20} MiB free); the earlier checkpoints are intact "
                      f"(latest step {self.latest_step()}): free some space and run the same command to resume")

  def _failed(self, step, error):
    self.remove_temporary()
    raise UserError(f"could not write the checkpoint of step {step} in {self.directory}: "
                    f"{getattr(error, 'strerror', None) or error}; the earlier checkpoints are intact "
                    f"(latest step {self.latest_step()})") from None

  def remove_temporary(self):
    """Removes the temporary folders of unfinished saves (left by a crash or a failure)."""
    for path in glob.glob(os.path.join(self.directory, "*.orbax-checkpoint-tmp*")):
      shutil.rmtree(path, ignore_errors=True)

  def restore(self, target, step=None):
    """Restores into the structure, shapes and shardings of `target` (arrays or abstract).

    A checkpoint whose tree or shapes differ from `target` (written by an older version
    of the library, or with a config whose model differs) is a `UserError` that names
    the folder, not an orbax traceback.
    """
    step = self.latest_step() if step is None else step
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
    try:
      return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
    except ValueError as e:
      reason = " ".join(str(e).split())
      raise UserError(
          f"the checkpoint at step {step} in {self.directory} does not fit this version's train "
          f"state for its config (saved by an older aigc_jax or with different model settings?); "
          f"start a new --workdir. Orbax says: {reason[:300]}") from None

  def wait(self):
    try:
      self._manager.wait_until_finished()
    except (OSError, ValueError) as e:
      self._failed(self.latest_step(), e)

  def close(self):
    self._manager.close()


def open_for_reading(workdir: str) -> Checkpointer:
  """The checkpoints of a finished or running workdir; a clear error if there are none."""
  directory = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(directory):
    raise UserError(f"no checkpoint in {workdir!r} (expected {directory}); train first with "
                    f"`aigc train --workdir {workdir}`")
  ckpt = Checkpointer(directory, read_only=True)
  if ckpt.latest_step() is None:
    raise UserError(f"no checkpoint in {directory}; train first with `aigc train --workdir {workdir}`")
  return ckpt
