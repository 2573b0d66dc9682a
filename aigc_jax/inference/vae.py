"""What a trained VAE does: sample, reconstruct images, interpolate in latent space.

  run = inference.load("runs/vae_digits")
  samples = vae.sample(run, jax.random.key(0), 16)              # uint8 [16, R, R, C]
  inputs, recons = vae.reconstruct_images(run, images_uint8)   # uint8, inputs resized
  walk = vae.interpolate(run, jax.random.key(0), rows=4, steps=8)

Displayed images are the decoder's *mean* for a latent, not a draw from the pixel
distribution: per-pixel noise would only add grain.
"""

import jax
import jax.numpy as jnp
import numpy as np

from aigc_jax import images as images_lib
from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.train import vae


def resolve_labels(opts, labels, num: int):
  """Label names (strings) -> int32 [num] class ids, cycling the list; None if unconditional.

  With no labels, a conditional VAE cycles through all classes (0, 1, ..., K-1, 0, ...).
  """
  k = opts.model.num_classes
  if k == 0:
    if labels:
      raise UserError("this run's VAE is unconditional; --labels needs a conditional VAE "
                      "(train one with configs/cvae_digits.py)")
    return None
  if not labels:
    return np.arange(num, dtype=np.int32) % k
  return np.resize(pipeline.dataset_info(opts.data.config).label_indices(labels), num)


def sample(run, key, num: int, labels=None, attributes=None) -> np.ndarray:
  """uint8 [num, R, R, C]: decoder means of prior samples z ~ N(0, I).

  `labels` (a list of label names) picks the classes of a conditional VAE, cycled over
  the `num` samples; VAEs take no attributes.
  """
  if attributes:
    raise UserError("VAEs are not conditioned on attributes; use --labels with a conditional VAE")
  ids = resolve_labels(run.opts, labels, num)
  z = jax.random.normal(key, (num, run.opts.model.latent_dim))
  return vae.decode_latents(run.opts, run.state, z, ids)


def reconstruct_images(run, images_uint8, labels=None) -> np.ndarray:
  """uint8 images (a list of [H, W, C] of any size, C = 1 or 3) -> (the inputs resized
  and converted to the model's size and channels as the training pipeline does, their
  reconstructions), both uint8 [N, R, R, C]. `labels`: names, one for all or one each
  (conditional VAEs)."""
  inputs = np.stack([pipeline.resize_uint8(images_lib.to_channels(x, run.opts.data.channels),
                                           run.opts.data.resolution) for x in images_uint8])
  if labels and len(labels) not in (1, len(inputs)):
    raise UserError(f"{len(labels)} labels for {len(inputs)} images; give one or one each")
  ids = resolve_labels(run.opts, labels, len(inputs)) if labels else None
  return inputs, vae.reconstruct(run.opts, run.state, inputs, ids)


def slerp(z0, z1, t):
  """Spherical interpolation between latents [N, D] at fractions t [T] -> [N, T, D].

  Under a N(0, I) prior most mass lies near a sphere; spherical paths stay near it, where
  straight lines pass through the rarely seen centre (White, 2016).
  """
  z0, z1, t = jnp.asarray(z0), jnp.asarray(z1), jnp.asarray(t)[None, :, None]
  unit = lambda v: v / jnp.linalg.norm(v, axis=-1, keepdims=True)
  omega = jnp.arccos(jnp.clip(jnp.sum(unit(z0) * unit(z1), axis=-1), -1.0, 1.0))[:, None, None]
  sin = jnp.sin(omega)
  safe = sin > 1e-6
  w0 = jnp.where(safe, jnp.sin((1.0 - t) * omega) / jnp.where(safe, sin, 1.0), 1.0 - t)
  w1 = jnp.where(safe, jnp.sin(t * omega) / jnp.where(safe, sin, 1.0), t)
  return w0 * z0[:, None] + w1 * z1[:, None]


def interpolate(run, key, rows: int, steps: int, labels=None) -> np.ndarray:
  """uint8 [rows * steps, R, R, C]: each row walks (slerp) between two prior samples.

  `labels` (names) fix each row's class for a conditional VAE, cycled over rows.
  """
  if steps < 2 or rows < 1:
    raise UserError("an interpolation needs at least 2 steps and 1 row")
  ids = resolve_labels(run.opts, labels, rows)
  k0, k1 = jax.random.split(key)
  d = run.opts.model.latent_dim
  path = slerp(jax.random.normal(k0, (rows, d)), jax.random.normal(k1, (rows, d)), jnp.linspace(0.0, 1.0, steps))
  return vae.decode_latents(run.opts, run.state, np.asarray(path).reshape(rows * steps, d),
                            None if ids is None else np.repeat(ids, steps))
