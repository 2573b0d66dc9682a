"""Throughput of Inception feature extraction, this port against pytorch-fid.

Both run on the same uint8 images, timed interleaved (A, B, A, B, ...) in one process,
after one untimed batch each (compilation, allocator warm-up). The features of that
first batch are compared, so a speed-up that changed the features would show.
"""

import numpy as np

from aigc_jax.bench import timing


def jax_pool3_fn(variables, batch_size: int = 50, resize: str = "pytorch"):
  """images uint8 [N, H, W, C] -> pool3 float32 numpy [N, 2048], with this library's
  inception_features (float32, 'highest' precision, on every local device)."""
  from aigc_jax.metrics.inception import inception_features
  return lambda images: inception_features(variables, images, batch_size, resize)[0]


def images_per_second(fns: dict, images: np.ndarray, batch_size: int, rounds: int = 3):
  """({name: median images/s}, {name: pool3 of the first batch}) of each fn(images) ->
  numpy pool3, timed interleaved on all of `images` after one untimed first batch."""
  first = {name: fn(images[:batch_size]) for name, fn in fns.items()}
  steps = {name: timing.Step(lambda fn=fn: fn(images), lambda: None) for name, fn in fns.items()}
  secs = timing.interleaved(steps, rounds, 1)  # numpy output: each call has finished.
  return {name: len(images) / s for name, s in secs.items()}, first


def inception_images_per_second(variables, images, batch_size: int = 50, rounds: int = 3) -> float:
  """Median images/s of this port's pool3 extraction on `images` (after one warm-up batch)."""
  return images_per_second({"jax": jax_pool3_fn(variables, batch_size)}, images, batch_size, rounds)[0]["jax"]
