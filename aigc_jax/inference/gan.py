"""What a trained GAN does: draw samples, of given classes or attributes.

  run = inference.load("runs/cgan_digits")
  images = gan.sample(run, jax.random.key(0), 16, labels=["3", "7"])   # uint8 [16, R, R, C]
"""

import jax
import jax.numpy as jnp
import numpy as np

from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.train import gan


def balanced_labels(num: int, num_classes: int) -> np.ndarray:
  """int32 [num]: every class in turn, so each is drawn equally often."""
  return np.arange(num, dtype=np.int32) % num_classes


def conditions(opts, key, num: int, labels=None, attributes=None):
  """The conditions y [num, K] for sampling, from class or attribute names, or None.

  Class runs: `labels` (class names, e.g. ["3", "7"]) are repeated over the samples;
  without them every class in turn. Attribute runs: `attributes` (names) are all on in
  every sample and the others off; without them, the attribute vectors of random
  training images. Names are checked against the dataset's names (a UserError lists
  the valid ones).
  """
  kind, k, data = opts.model.conditioning, opts.model.cond_dim, opts.data.config
  if kind == "none":
    if labels or attributes:
      raise UserError("this run's model is unconditional; --labels/--attributes need a conditional GAN")
    return None
  if kind == "class":
    if attributes:
      raise UserError("this run is class-conditional: use --labels, not --attributes")
    index = np.resize(pipeline.dataset_info(data).label_indices(labels), num) if labels else balanced_labels(num, k)
    return jax.nn.one_hot(index, k)
  if labels:
    raise UserError("this run is attribute-conditional: use --attributes, not --labels")
  if attributes:
    return jnp.asarray(np.tile(pipeline.dataset_info(data).attribute_vector(attributes), (num, 1)))
  size = pipeline.dataset_info(data).split_sizes["train"]
  index = np.asarray(jax.random.randint(jax.random.fold_in(key, 1), (num,), 0, size))
  return jnp.asarray(pipeline.load_attributes(data, "train", index))


def sample(run, key, num: int, labels=None, attributes=None) -> np.ndarray:
  """`num` samples uint8 [num, R, R, C]; `labels` / `attributes` are lists of names."""
  y = conditions(run.opts, key, num, labels, attributes)
  z = jax.random.normal(key, (num, run.opts.model.latent_dim))
  return gan.generate_from_latents(run.opts, run.state, z, y)
