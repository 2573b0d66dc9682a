import jax
import jax.numpy as jnp
import pytest

from aigc_jax.bench import flops
from aigc_jax.models import dcgan


def test_discriminator_count_matches_xla_for_a_plain_convolution_stack():
  # The discriminator has no transposed convolutions, so XLA's count of its forward pass
  # is the useful work plus a little elementwise work (BatchNorm, LeakyReLU).
  d = dcgan.Discriminator(resolution=32)
  x = jnp.zeros((4, 32, 32, 3))
  variables = d.init(jax.random.key(0), x, train=False)
  cost = jax.jit(lambda v, x: d.apply(v, x, train=False)).lower(variables, x).compile().cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  counted = 2 * 4 * sum(flops.discriminator_macs(32, 3, 64))
  assert counted <= cost["flops"] <= 1.05 * counted


def test_generator_count_matches_xla_for_the_subpixel_lowering():
  # The sub-pixel transposed convolution multiplies no inserted zeros: XLA counts exactly
  # 16 taps per input pixel (the border taps land on explicit padding), the dilated
  # lowering four times as many; the useful count drops the border taps.
  from aigc_jax.models.upsample import subpixel_conv_transpose
  x = jnp.zeros((2, 8, 8, 16))
  k = jnp.zeros((4, 4, 16, 8))
  cost = jax.jit(subpixel_conv_transpose).lower(x, k).compile().cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  assert cost["flops"] == 2 * 2 * (4 * 8) ** 2 * 16 * 8
  assert flops._up_macs(8, 16, 8) == (4 * 8 - 2) ** 2 * 16 * 8


def test_generator_layers_by_hand_at_32x32():
  # 100 -> 256 at 4x4, then 256 -> 128 (8x8), 128 -> 64 (16x16), 64 -> 3 (32x32);
  # a stride-2 layer from S pixels has (4S - 2)**2 data taps per channel pair.
  layers = flops.generator_macs(32, 3, 64, 100)
  assert layers == [16 * 100 * 256, 14**2 * 256 * 128, 30**2 * 128 * 64, 62**2 * 64 * 3]


def test_step_flops_scale_with_batch():
  assert flops.dcgan_step_flops(256) == 2 * flops.dcgan_step_flops(128)
