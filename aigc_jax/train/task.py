"""What the generic trainer needs from a model family, and the registry of families.

A family (GAN, VAE, CycleGAN, ...) is a `Task`: a handful of pure functions over its own
train-state pytree. `aigc_jax.train.loop` runs any task with the same loop, checkpoints,
logging and sharding; the CLI's `sample` and `eval` call the same functions.
"""

import importlib
from typing import Callable, NamedTuple

from aigc_jax.errors import UserError


class Task(NamedTuple):
  # (config, key) -> state: a freshly initialised train state (a pytree with a `step`).
  init_state: Callable
  # config -> train_step(state, batch, key) -> (state, metrics): pure, jit-able.
  make_train_step: Callable
  # (config, start_step) -> iterator of host batches (pytrees of numpy arrays) for this
  # process, starting with the batch of step `start_step`.
  train_batches: Callable
  # (config, state) -> uint8 [N, H, W, C] from fixed inputs, for `samples/step_*.png`;
  # also returns the number of grid columns.
  sample_grid: Callable
  # (config, state, key, num, **options) -> uint8 [num, H, W, C], for `aigc sample`.
  generate: Callable
  # (config, state, options: dict) -> dict of metrics, for `aigc eval`.
  evaluate: Callable


# Registry: config.task -> module that defines TASK.
_TASKS = {
    "gan": "aigc_jax.train.gan",
    "vae": "aigc_jax.train.vae",
    "cyclegan": "aigc_jax.train.cyclegan",
    "restoration": "aigc_jax.train.restoration",
}


def get_task(name: str) -> Task:
  if name not in _TASKS:
    raise UserError(f"unknown task {name!r}; choose one of {', '.join(_TASKS)}")
  return importlib.import_module(_TASKS[name]).TASK
