"""A small CNN classifier for any labelled dataset (a folder of class sub-folders): the
judge of models trained on that dataset, as `digits_classifier` is for `digits`.

`train` fits it to the train split of a dataset named by a `config.data` ConfigDict,
`save` writes its weights and what it was trained on (resolution, channels, resize
policy, label names) into one .npz, and `load` reads both back, so a file is all that
`aigc eval --classifier FILE` (`evaluation.evaluate(run, classifier=FILE)`) needs.
`classifier_metrics` turns its outputs into IS, FID and conditional accuracy.
`scripts/train_folder_classifier.py` trains and writes one.

Input: uint8 NHWC images of any size with 1 or 3 channels; `prepare` converts them to
the classifier's channels (luma, or grey repeated) and resizes them to its resolution
(bicubic, `pipeline.resize_uint8`), the way the data pipeline reads the dataset.
"""

import dataclasses
import functools
import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import traverse_util

from aigc_jax import images as images_lib
from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.evaluation import classifier_step

FEATURES = 128  # Width of the penultimate layer, the space FID is computed in.


class Classifier(nn.Module):
  """float32 [B, R, R, C] in [-1, 1] -> (logits [B, num_classes], features [B, 128]).

  Three stages of a 3x3 convolution and a 2x2 max-pool (32, 64, 64 channels), then a
  128-unit layer: small enough to train in minutes on a CPU, and under 1 MB of float32
  weights up to 32x32 inputs (the dense layer grows with the resolution).
  """
  num_classes: int

  @nn.compact
  def __call__(self, x):
    for width in (32, 64, 64):
      x = nn.relu(nn.Conv(width, (3, 3))(x))
      x = nn.max_pool(x, (2, 2), (2, 2))
    features = nn.relu(nn.Dense(FEATURES)(x.reshape(x.shape[0], -1)))
    return nn.Dense(self.num_classes)(features), features


@dataclasses.dataclass(frozen=True)
class Trained:
  """A trained classifier: its parameters and what its inputs are."""
  params: dict
  resolution: int
  channels: int
  label_names: tuple[str, ...]
  test_accuracy: float  # On the held-out split of the data it was trained on.


def prepare(images_uint8: np.ndarray, resolution: int, channels: int) -> np.ndarray:
  """uint8 [N, H, W, C] -> float32 [N, resolution, resolution, channels] in [-1, 1]."""
  images = np.asarray(images_uint8)
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"expected uint8 [N, H, W, 1 or 3] images, got {images.dtype} {images.shape}")
  images = images_lib.to_channels(images, channels)
  if images.shape[1:3] != (resolution, resolution):
    images = np.stack([pipeline.resize_uint8(im, resolution) for im in images])
  return pipeline.to_model_range(images)


@functools.lru_cache(maxsize=4)
def _apply_fn(num_classes: int):
  return jax.jit(lambda params, x: Classifier(num_classes).apply({"params": params}, x))


def classify(trained: Trained, images_uint8: np.ndarray, batch_size: int = 500):
  """uint8 images [N, H, W, C] -> (logits [N, K], features [N, 128]), float64 numpy."""
  x = prepare(images_uint8, trained.resolution, trained.channels)
  apply = _apply_fn(len(trained.label_names))
  outs = [apply(trained.params, x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
  logits = np.concatenate([np.asarray(o[0]) for o in outs]).astype(np.float64)
  features = np.concatenate([np.asarray(o[1]) for o in outs]).astype(np.float64)
  return logits, features


def split_arrays(data_config, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """(uint8 images [N, R, R, C], int32 labels [N] or None for an unlabelled dataset) of a
  split at `data_config`'s resolution and channels, read in order in batches; at most
  `limit` images (all if None)."""
  ds = pipeline.make_dataset(data_config, split, batch_size=256, train=False, process_index=0, process_count=1)
  images, labels, count = [], [], 0
  for i in range(len(ds)):
    batch = ds[i]
    images.append(pipeline.to_uint8(batch["image"]))
    if "label" in batch:
      labels.append(np.asarray(batch["label"], np.int32))
    count += len(images[-1])
    if limit is not None and count >= limit:
      break
  return np.concatenate(images)[:limit], (np.concatenate(labels)[:limit] if labels else None)


def train(data_config, *, seed: int = 0, num_steps: int = 2000, batch_size: int = 64,
          learning_rate: float = 2e-3, log=print) -> Trained:
  """Fits a classifier to the train split of `data_config`'s labelled dataset, read
  through the training pipeline at `data_config.resolution` and `.channels`; returns it
  with its accuracy on the test split.

  AdamW with a cosine decay; shifts of up to 2 pixels and rotations of up to 10 degrees
  make it robust to the small misalignments of generated images.
  """
  names = pipeline.label_names(data_config)
  if not names:
    raise UserError(f"{data_config.get('path') or data_config.name} has no class labels; "
                    f"a classifier needs one sub-folder per class")
  resolution, channels = int(data_config.resolution), int(data_config.channels)
  model = Classifier(len(names))
  key = jax.random.key(seed)
  params = model.init(jax.random.fold_in(key, 0), jnp.zeros((1, resolution, resolution, channels)))["params"]
  tx = optax.adamw(optax.cosine_decay_schedule(learning_rate, num_steps), weight_decay=1e-4)
  opt_state = tx.init(params)

  step = classifier_step.make_step(model, tx, max_shift=2)

  batches = pipeline.train_batches(data_config, batch_size=batch_size, seed=seed)
  for s in range(num_steps):
    batch = next(batches)
    params, opt_state, loss = step(params, opt_state, batch["image"], batch["label"], jax.random.fold_in(key, s + 1))
    if (s + 1) % 500 == 0 or s + 1 == num_steps:
      log(f"step {s + 1}: loss {float(loss):.4f}")
  trained = Trained(jax.device_get(params), resolution, channels, tuple(names), 0.0)
  test_x, test_y = split_arrays(data_config, "test")
  logits, _ = classify(trained, test_x)
  return dataclasses.replace(trained, test_accuracy=float(np.mean(logits.argmax(-1) == test_y)))


def save(trained: Trained, path: str):
  """Writes the weights ("params/<layer>/<name>", float32) and a "meta" JSON string."""
  meta = {"resolution": trained.resolution, "channels": trained.channels,
          "label_names": list(trained.label_names), "test_accuracy": trained.test_accuracy}
  flat = traverse_util.flatten_dict(jax.device_get(trained.params), sep="/")
  arrays = {f"params/{k}": np.asarray(v, np.float32) for k, v in flat.items()}
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + ".tmp.npz"
  np.savez(tmp, meta=np.asarray(json.dumps(meta)), **arrays)
  os.replace(tmp, path)


def load(path: str) -> Trained:
  """Reads a file written by `save`; a missing or foreign file is a one-line error."""
  try:
    with np.load(path, allow_pickle=False) as f:
      meta = json.loads(str(f["meta"]))
      flat = {k[len("params/"):]: jnp.asarray(f[k]) for k in f.files if k.startswith("params/")}
  except (OSError, KeyError, ValueError) as e:
    raise UserError(f"cannot read classifier {path!r} ({e}); write one with scripts/train_folder_classifier.py")
  return Trained(traverse_util.unflatten_dict(flat, sep="/"), int(meta["resolution"]), int(meta["channels"]),
                 tuple(meta["label_names"]), float(meta["test_accuracy"]))
