"""What the generic trainer needs from a model family, and the registry of families.

A family (GAN, VAE, CycleGAN, ...) is a `Task`: a parser of its config into frozen,
typed options, and a handful of pure functions over those options and its own
train-state pytree. `aigc_jax.train.loop` runs any task with the same loop,
checkpoints, logging and sharding. What a trained run can do (sample, translate,
restore, ...) lives apart, in `aigc_jax.inference`.
"""

import dataclasses
import importlib
from typing import Callable, NamedTuple

from aigc_jax.errors import UserError
import ml_collections

from aigc_jax.options import one_of, require, section


@dataclasses.dataclass(frozen=True)
class RunOptions:
  """The keys every config has (configs/common.py): how long and how a run trains."""
  task: str
  seed: int
  num_steps: int
  batch_size: int
  log_every: int
  sample_every: int
  checkpoint_every: int
  keep_checkpoints: int
  num_grid_samples: int
  compute_dtype: str

  def check(self):
    from aigc_jax.train.precision import COMPUTE_DTYPES
    for name in ("num_steps", "batch_size", "log_every", "sample_every", "checkpoint_every",
                 "keep_checkpoints", "num_grid_samples"):
      value = getattr(self, name)
      require(value >= 1, f"{name} must be at least 1, got {value}")
    one_of(self.compute_dtype, COMPUTE_DTYPES, "compute_dtype")


@dataclasses.dataclass(frozen=True)
class ImageData:
  """The keys of `config.data` that fix the images' shape; `config` is the whole section."""
  name: str
  resolution: int
  channels: int
  config: ml_collections.ConfigDict = section()

  def check(self):
    require(self.channels in (1, 3), f"data.channels must be 1 or 3, got {self.channels}")
    require(self.resolution >= 1, f"data.resolution must be at least 1, got {self.resolution}")


class Task(NamedTuple):
  # config -> options: a frozen dataclass with `run: RunOptions`, checked (UserError).
  parse: Callable
  # (options, key) -> state: a freshly initialised train state (a pytree with a `step`);
  # `key` is the run's "init" stream (aigc_jax.train.keys).
  init_state: Callable
  # options -> train_step(state, batch, key) -> (state, metrics): pure, jit-able.
  make_train_step: Callable
  # (options, start_step) -> iterator of host batches (pytrees of numpy arrays) for this
  # process, starting with the batch of step `start_step`.
  train_batches: Callable
  # (options, state) -> (uint8 [N, H, W, C] from fixed inputs, number of grid columns),
  # for `samples/step_*.png`.
  sample_grid: Callable


# Registry: config.task -> module that defines TASK.
TASKS = {
    "gan": "aigc_jax.train.gan",
    "vae": "aigc_jax.train.vae",
    "cyclegan": "aigc_jax.train.cyclegan",
    "restoration": "aigc_jax.train.restoration",
    "pix2pix": "aigc_jax.train.pix2pix",
    "text_encoder": "aigc_jax.train.text_encoder",
    "text2img": "aigc_jax.train.text2img",
    "diffusion": "aigc_jax.train.diffusion",
}


def get_task(name: str) -> Task:
  if name not in TASKS:
    raise UserError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
  return importlib.import_module(TASKS[name]).TASK


def parse_config(config):
  """(task, options) of a loaded config: every value checked, once (UserError if not).

  The data section is checked by the data layer (`aigc_jax.data.validate`). A
  class-conditional config on a folder takes its number of classes from the folder's
  class sub-folders, written into `config.model.num_classes` (so config.json says it).
  """
  if "task" not in config:
    raise UserError("config key 'task' is missing; the shipped configs (configs/*.py) show every key")
  task = get_task(config.task)
  if "data" in config:
    from aigc_jax import data
    data.validate(config.data)
    _classes_from_folder(config)
  return task, task.parse(config)


def _classes_from_folder(config):
  model = config.get("model")
  if config.data.get("name") != "folder" or model is None or not model.get("num_classes"):
    return
  if model.get("conditioning", "class") != "class":
    return
  from aigc_jax import data
  names = data.label_names(config.data)
  if not names:
    raise UserError(f"{config.data.path!r} has no class sub-folders, so a class-conditional model has no "
                    f"labels; use one sub-folder per class, or an unconditional config")
  model.num_classes = len(names)
