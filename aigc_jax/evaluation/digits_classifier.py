"""A small CNN that classifies `digits` images; the judge of models trained on digits.

Its softmax gives an Inception Score for digits (`digits_is`) and its penultimate
128-d features a Frechet distance (`digits_fid`), the way Inception-v3 does for natural
images. The weights ship in `aigc_jax/assets/digits_classifier.npz`; they are made by
`scripts/train_digits_classifier.py` (a fixed seed, about a minute on 2 CPU cores) and
reach >= 97% accuracy on the test split (a test checks this).

Input: uint8 NHWC images of any square size with 1 channel (3 channels are averaged);
they are resized to 16x16 the way the data pipeline resizes digits.
"""

import functools
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import traverse_util

from aigc_jax import distributed, images as images_lib
from aigc_jax.data import pipeline
from aigc_jax.evaluation import classifier_step

RESOLUTION = 16
WEIGHTS_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets", "digits_classifier.npz")


class DigitsClassifier(nn.Module):
  """float32 [B, 16, 16, 1] in [-1, 1] -> (logits [B, 10], features [B, 128])."""
  num_classes: int = 10

  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Conv(32, (3, 3))(x))
    x = nn.relu(nn.Conv(32, (3, 3))(x))
    x = nn.max_pool(x, (2, 2), (2, 2))
    x = nn.relu(nn.Conv(64, (3, 3))(x))
    x = nn.max_pool(x, (2, 2), (2, 2))
    features = nn.relu(nn.Dense(128)(x.reshape(x.shape[0], -1)))
    return nn.Dense(self.num_classes)(features), features


def prepare(images_uint8: np.ndarray) -> np.ndarray:
  """uint8 [N, H, W, C] -> float32 [N, 16, 16, 1] in [-1, 1], the classifier's input."""
  images = np.asarray(images_uint8)
  if images.dtype != np.uint8:
    raise ValueError(f"expected uint8 images, got {images.dtype}")
  if images.shape[-1] == 3:
    images = images_lib.to_channels(images, 1)
  if images.shape[1:3] != (RESOLUTION, RESOLUTION):
    images = np.stack([pipeline.resize_uint8(im, RESOLUTION) for im in images])
  return pipeline.to_model_range(images)


@jax.jit
def _apply(params, x):
  return DigitsClassifier().apply({"params": params}, x)


def classify(params, images_uint8: np.ndarray, batch_size: int = 500):
  """uint8 images -> (logits [N, 10], features [N, 128]) as float64 numpy arrays."""
  x = prepare(images_uint8)
  if distributed.is_multiprocess():  # Each process classifies its share; all get the whole.
    logits, features = distributed.chunked_apply(lambda b: _apply(params, b), x, chunk=batch_size)
    return logits.astype(np.float64), features.astype(np.float64)
  outs = [_apply(params, x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
  logits = np.concatenate([np.asarray(o[0]) for o in outs]).astype(np.float64)
  features = np.concatenate([np.asarray(o[1]) for o in outs]).astype(np.float64)
  return logits, features


def save_params(params, path: str):
  flat = traverse_util.flatten_dict(jax.device_get(params), sep="/")
  tmp = path + ".tmp.npz"
  np.savez(tmp, **{k: np.asarray(v, np.float32) for k, v in flat.items()})
  os.replace(tmp, path)


@functools.lru_cache(maxsize=4)
def load_params(path: str = WEIGHTS_PATH):
  with np.load(path) as f:
    return traverse_util.unflatten_dict({k: jnp.asarray(f[k]) for k in f.files}, sep="/")


def real_digits(split: str, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
  """(uint8 images [N, 16, 16, 1], labels [N]) of a digits split, resized as in training."""
  from ml_collections import ConfigDict
  cfg = ConfigDict({"name": "digits", "data_dir": data_dir, "resolution": RESOLUTION, "channels": 1})
  ds = pipeline.make_dataset(cfg, split, batch_size=10_000, train=False, process_index=0, process_count=1)
  batch = ds[0]
  return pipeline.to_uint8(batch["image"]), np.asarray(batch["label"])


def train(seed: int = 0, num_steps: int = 3000, batch_size: int = 64, data_dir=None, log=print):
  """Trains the classifier on the train split; returns (params, test accuracy).

  Augmentation (shifts of up to 1 pixel, rotations of up to 10 degrees) makes it robust
  to the small misalignments that generated digits have.
  """
  train_x, train_y = real_digits("train", data_dir)
  test_x, test_y = real_digits("test", data_dir)
  train_x = pipeline.to_model_range(train_x)
  model = DigitsClassifier()
  key = jax.random.key(seed)
  params = model.init(jax.random.fold_in(key, 0), jnp.zeros((1, RESOLUTION, RESOLUTION, 1)))["params"]
  tx = optax.adamw(optax.cosine_decay_schedule(2e-3, num_steps), weight_decay=1e-4)
  opt_state = tx.init(params)

  step = classifier_step.make_step(model, tx, max_shift=1)
  train_x, train_y = jnp.asarray(train_x), jnp.asarray(train_y)

  rng = np.random.default_rng(seed)
  for s in range(num_steps):
    idx = rng.integers(0, len(train_x), batch_size)
    params, opt_state, loss = step(params, opt_state, train_x[idx], train_y[idx], jax.random.fold_in(key, s + 1))
    if (s + 1) % 500 == 0:
      log(f"step {s + 1}: loss {float(loss):.4f}")
  logits, _ = classify(params, test_x)
  return params, float(np.mean(logits.argmax(-1) == test_y))
