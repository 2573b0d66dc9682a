"""GAN losses as functions of discriminator logits, picked by name.

Each loss is a pair `(d_loss(real_logits, fake_logits), g_loss(fake_logits))` returning
per-example values [B]; callers reduce (usually with a mean).
"""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


class GANLoss(NamedTuple):
  d_loss: Callable  # (real_logits [B], fake_logits [B]) -> [B]
  g_loss: Callable  # (fake_logits [B]) -> [B]


def _ns_d(real, fake):
  # -log sigmoid(real) - log(1 - sigmoid(fake)), computed stably with softplus.
  return jax.nn.softplus(-real) + jax.nn.softplus(fake)


def _ns_g(fake):
  # The non-saturating generator loss: -log sigmoid(D(G(z))).
  return jax.nn.softplus(-fake)


# Registry of losses, selected with `config.loss`.
LOSSES = {
    "non_saturating": GANLoss(_ns_d, _ns_g),
}


def get_loss(name: str) -> GANLoss:
  if name not in LOSSES:
    from aigc_jax.errors import UserError
    raise UserError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
  return LOSSES[name]
