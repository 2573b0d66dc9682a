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


DIGITS_UNET = dict(resolution=16, channels=1, base_channels=32, channel_mult=(1, 2), num_res_blocks=2,
                   attention_resolutions=(8,), num_classes=10)


def test_unet_count_matches_xla():
  # XLA's cost analysis counts the data taps of a padded convolution (not those on the
  # padding) plus the elementwise work (biases, GroupNorm, SiLU, softmax): the
  # architecture's count must sit just below it.
  from aigc_jax.models import diffusion
  model = diffusion.UNet(**DIGITS_UNET)
  x, c_noise, labels = jnp.zeros((2, 16, 16, 1)), jnp.zeros((2,)), jnp.zeros((2,), jnp.int32)
  variables = jax.eval_shape(model.init, jax.random.key(0), x, c_noise, labels)
  cost = jax.jit(model.apply).lower(variables, x, c_noise, labels).cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost
  counted = 2 * 2 * flops.unet_forward_macs(**DIGITS_UNET).total
  assert counted <= cost["flops"] <= 1.05 * counted


def test_unet_useful_count_by_hand_for_one_level():
  # One level at 4x4, one block, 4 -> 4 channels, no attention but the middle's:
  # embedding MLP 4*16 + 16*16; input conv (3*4-2)^2 * 1 * 4; the down path's block and
  # the middle's two blocks each 2 convs of 10^2 * 4 * 4 plus 16 * 4 from the embedding;
  # middle attention 4 * 16 * 4^2 + 2 * 16^2 * 4; two decoder blocks of 8 -> 4 channels
  # (10^2 * 8 * 4 + 16 * 4 + 10^2 * 4 * 4 + a 1x1 skip 16 * 8 * 4); output conv 10^2 * 4 * 1.
  arch = dict(resolution=4, channels=1, base_channels=4, channel_mult=(1,), num_res_blocks=1,
              attention_resolutions=())
  block = 2 * 100 * 16 + 64
  decoder_block = 100 * 32 + 64 + 100 * 16 + 16 * 32
  want = 64 + 256 + 100 * 4 + 3 * block + 4 * 16 * 16 + 2 * 256 * 4 + 2 * decoder_block + 100 * 4
  macs = flops.unet_forward_macs(**arch)
  assert macs == (want, 400, 2 * 256 * 4)
  assert flops.unet_step_flops(3, **arch) == 2 * 3 * (3 * want - 400)
  assert flops.unet_sampling_flops(5, 18, guided=True, **arch) == 2 * 5 * 35 * 2 * want
