"""Image-text losses and scores as functions over arrays.

- `contrastive_loss`: the symmetric image-text matching loss of CLIP (Radford et al.,
  2021), which is DAMSM's sentence loss (Xu et al., 2018, AttnGAN) with a learned
  temperature: for a batch of B matching (image, caption) pairs, each image must pick
  its caption among the B captions and each caption its image.
- `matching_aware_d_loss`: the GAN-CLS discriminator loss (Reed et al., 2016): a real
  image with its caption is real; a generated image with its caption, and a real image
  with another example's caption, are fake (each half weight).
- `r_precision`: AttnGAN's R-precision (R = 1): how often an image's own caption ranks
  first among it and `num_candidates - 1` mismatched captions.
"""

import jax
import jax.numpy as jnp
import numpy as np

from aigc_jax import losses as gan_losses


def l2_normalize(x, axis: int = -1, eps: float = 1e-8):
  """x / ||x|| along `axis` (zero vectors stay zero)."""
  return x / jnp.sqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True) + eps)


def contrastive_loss(image_emb, text_emb, log_scale):
  """The symmetric contrastive loss of B matching pairs, per example [B].

  Args:
    image_emb, text_emb: float [B, D]; row i of each is a matching pair. They are
      L2-normalised here, so the logits are scaled cosine similarities.
    log_scale: float scalar; the logits are `exp(log_scale) * cos` (CLIP learns it,
      starting at log(1 / 0.07)).
  Returns:
    float [B]: (cross-entropy of image i over the captions + of caption i over the
    images) / 2, with the matching pair as the target.
  """
  logits = jnp.exp(log_scale) * l2_normalize(image_emb) @ l2_normalize(text_emb).T  # [B, B]
  diagonal = jnp.diagonal(logits)
  image_to_text = jax.nn.logsumexp(logits, axis=1) - diagonal
  text_to_image = jax.nn.logsumexp(logits, axis=0) - diagonal
  return 0.5 * (image_to_text + text_to_image)


def matching_aware_d_loss(loss_name: str, real_logits, fake_logits, mismatch_logits):
  """GAN-CLS's discriminator loss per example [B], for a loss of `aigc_jax.losses.LOSSES`.

  real_logits: D(real image, its caption) [B]; fake_logits: D(generated image, its
  caption) [B]; mismatch_logits: D(real image, another caption) [B]. Returns
  `d_loss(real, fake) / 2 + d_loss(real, mismatch) / 2`: the real term once, each
  fake kind with half weight, as in Reed et al.
  """
  d_loss = gan_losses.get_loss(loss_name).d_loss
  return 0.5 * (d_loss(real_logits, fake_logits) + d_loss(real_logits, mismatch_logits))


def r_precision(image_emb, text_emb, groups, num_candidates: int = 100, seed: int = 0) -> float:
  """AttnGAN's R-precision (R = 1) of N images against their captions, in [0, 1].

  For each image i, its caption (row i of `text_emb`) and `num_candidates - 1`
  captions drawn (with `seed`) from the rows whose `groups` differ from group i are
  ranked by cosine similarity to image i; the score is the fraction of images whose
  own caption ranks first. `groups` [N] (ints) marks captions that say the same thing
  (for the captioned digits: the same digit, thickness and slant), which would
  otherwise count as wrong answers that are right. Needs some row of another group.

  image_emb, text_emb: float [N, D] (numpy or JAX). Returns a Python float.
  """
  image = np.asarray(l2_normalize(jnp.asarray(image_emb)))
  text = np.asarray(l2_normalize(jnp.asarray(text_emb)))
  groups = np.asarray(groups)
  rng = np.random.default_rng(seed)
  hits = 0
  for i in range(len(image)):
    others = np.flatnonzero(groups != groups[i])
    candidates = rng.choice(others, size=num_candidates - 1, replace=len(others) < num_candidates - 1)
    scores = text[np.concatenate([[i], candidates])] @ image[i]
    hits += int(np.argmax(scores) == 0)
  return hits / len(image)
