"""Loading a trained run: its options, its family and its latest train state.

  run = load("runs/dcgan_digits")       # Run(workdir, config, opts, task, state)

The state is restored into an abstract state (`jax.eval_shape` of the family's init),
so nothing is initialised only to be overwritten.
"""

from typing import Any, NamedTuple

from aigc_jax import configlib
from aigc_jax.errors import UserError
from aigc_jax.train import checkpoint, loop, sharding
from aigc_jax.train.task import Task, parse_config


class Run(NamedTuple):
  workdir: str
  config: Any   # The ml_collections.ConfigDict the run was trained with (config.json).
  opts: Any     # Its family's options, parsed and checked.
  task: Task
  state: Any    # The latest checkpoint's train state.


def load(workdir: str, *, task: str | None = None, needs: str = "", check=None) -> Run:
  """The latest checkpoint of a training workdir, with its config and options.

  A caller that needs one kind of run names it: `task` (a UserError "<workdir> is a
  '<its task>' run; <needs>" for any other), or `check(config)` for a finer test that
  raises its own UserError. Both run before the checkpoint is read. A workdir without a
  checkpoint, whose checkpoint does not fit its config, or whose state is not finite, is
  a UserError.
  """
  config = configlib.config_from_workdir(workdir)
  if task is not None and config.get("task") != task:
    raise UserError(f"{workdir!r} is a {config.get('task')!r} run; {needs}")
  if check is not None:
    check(config)
  family, opts = parse_config(config)
  ckpt = checkpoint.open_for_reading(workdir)
  try:
    state = ckpt.restore(loop.abstract_state(family, opts, sharding.make_mesh()))
  finally:
    ckpt.close()
  if not bool(loop.all_finite(state)):
    raise UserError(f"the checkpoint of step {int(state.step)} in {workdir!r} holds non-finite parameters "
                    f"(the run diverged); sample or evaluate an earlier run")
  return Run(workdir, config, opts, family, state)
