"""Flax Linen modules: each computes its output and nothing else (no losses, no training)."""

from aigc_jax.models.dcgan import Discriminator, Generator

__all__ = ["Discriminator", "Generator"]
