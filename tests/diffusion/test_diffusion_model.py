"""The U-Net: the shipped config's size, shapes, and the start at D = c_skip * y."""

import jax
import jax.numpy as jnp
import numpy as np

from aigc_jax import configlib
from aigc_jax.models.diffusion import UNet
from aigc_jax.train import diffusion, edm


def test_shipped_config_has_the_probes_million_parameters():
  opts = diffusion.parse(configlib.load_config("diffusion_digits"))
  shapes = jax.eval_shape(lambda k: diffusion.init_state(opts, k), jax.random.key(0))
  count = sum(x.size for x in jax.tree.leaves(shapes.params))
  assert count == 1_003_137, count
  uncond = diffusion.parse(configlib.load_config("diffusion_digits:uncond"))
  shapes = jax.eval_shape(lambda k: diffusion.init_state(uncond, k), jax.random.key(0))
  assert count - sum(x.size for x in jax.tree.leaves(shapes.params)) == 11 * 128  # The class table.


def test_unet_shapes_and_initial_denoiser():
  model = UNet(resolution=8, channels=3, base_channels=8, channel_mult=(1, 2), num_res_blocks=1,
               attention_resolutions=(4,), num_classes=3, noise_embedding="fourier", num_groups=4)
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 3))
  sigma, labels = jnp.array([0.1, 5.0]), jnp.array([0, 3])  # 3: the null class.
  params = model.init(jax.random.key(0), x, sigma, labels)["params"]  # Eager: compiling the U-Net costs more.
  out = model.apply({"params": params}, x, sigma, labels)
  assert out.shape == (2, 8, 8, 3) and out.dtype == jnp.float32
  np.testing.assert_array_equal(out, 0.0)  # The output conv starts at zero: D(y) = c_skip y.
  d = diffusion.make_denoiser(model, params, 0.5)(x, sigma, labels)
  np.testing.assert_allclose(d, edm.precondition(sigma).c_skip[:, None, None, None] * x, rtol=1e-6)


def test_folder_configs_at_32_and_64_pixels():
  """Each folder config's U-Net reaches 8x8 at its lowest level, where attention runs."""
  for variant, size, levels in (("res32", 32, 3), ("res64", 64, 4)):
    opts = diffusion.parse(configlib.load_config(f"diffusion_folder:{variant}"))
    assert opts.data.resolution == size and len(dict(opts.model.architecture)["channel_mult"]) == levels
    assert size // 2 ** (levels - 1) == 8
    shapes = jax.eval_shape(lambda k: diffusion.init_state(opts, k), jax.random.key(0))
    assert 5e6 < sum(x.size for x in jax.tree.leaves(shapes.params)) < 2e7
    assert opts.model.num_classes == 0
  assert diffusion.parse(configlib.load_config("diffusion_folder:cond+res32")).model.num_classes > 0
