"""Orbax checkpoints of a train state: save every few steps, keep the last few, resume.

Orbax writes each checkpoint into a temporary folder and renames it when complete, so a
crash or Ctrl-C during a save never leaves a half-written checkpoint behind as the latest.
"""

import os

import jax
import orbax.checkpoint as ocp

from aigc_jax.errors import UserError


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

  def save(self, step: int, state, force: bool = False):
    self._manager.save(int(step), args=ocp.args.StandardSave(state), force=force)

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
    self._manager.wait_until_finished()

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
