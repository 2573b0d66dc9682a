"""Random keys of the "rbg" implementation for the GAN tests, restored after each module.

XLA's CPU compiler spends most of a small GAN step's compilation on threefry, the
default PRNG (about 10 s of an 11 s discriminator init, against under 2 s with "rbg").
These tests check what the options do, not particular random streams, so they draw
their keys from the implementation that compiles quickly.
"""

import jax
import pytest


@pytest.fixture(scope="module", autouse=True)
def fast_prng():
  previous = jax.config.jax_default_prng_impl
  jax.config.update("jax_default_prng_impl", "rbg")
  yield
  jax.config.update("jax_default_prng_impl", previous)
