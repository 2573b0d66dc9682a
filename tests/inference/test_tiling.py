"""Tiled inference (aigc_jax.inference.tiling): the layout, exactness against the
whole-image result, the restoration network and the CycleGAN generator in tiles."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax import configlib, inference
from aigc_jax.errors import UserError
from aigc_jax.inference import cyclegan as cyclegan_inference
from aigc_jax.inference import restoration as restoration_inference
from aigc_jax.inference import tiling
from aigc_jax.models import cyclegan as cyclegan_models
from aigc_jax.models import restoration as restoration_models
from aigc_jax.train import chunked, cyclegan, restoration


@pytest.mark.parametrize("height,width,tile,overlap,multiple,blend", [
    (37, 53, 16, 8, 1, 4), (40, 56, 16, 8, 4, 8), (17, 100, 32, 12, 1, 0), (64, 64, 64, 16, 4, None),
    (13, 9, 16, 4, 1, 2), (100, 36, 20, 16, 4, 16)])
def test_layout_covers_the_image_and_weights_are_a_partition_of_unity(height, width, tile, overlap, multiple, blend):
  layout = tiling.plan(height, width, tile=tile, overlap=overlap, multiple=multiple, blend=blend)
  for starts, side, length in ((layout.ys, layout.tile_h, height), (layout.xs, layout.tile_w, width)):
    assert starts[0] == 0 and starts[-1] + side == length
    assert all(s % multiple == 0 for s in starts)
    assert all(b - a <= side - overlap for a, b in zip(starts, starts[1:]))  # Overlaps >= `overlap`.
  total = tiling.merge(layout, np.ones((layout.num_tiles, layout.tile_h, layout.tile_w, 1)))
  np.testing.assert_allclose(total, 1, rtol=1e-6)
  # Tiles of the image itself blend back to the image.
  image = np.random.default_rng(0).normal(size=(height, width, 2)).astype(np.float32)
  np.testing.assert_allclose(tiling.merge(layout, tiling.split(layout, image)), image, rtol=1e-5, atol=1e-6)


def test_bad_sizes_are_one_line_errors():
  with pytest.raises(UserError, match="must be larger than the overlap"):
    tiling.plan(100, 100, tile=32, overlap=32)
  with pytest.raises(ValueError, match="multiple of 4"):
    tiling.plan(30, 32, tile=16, overlap=4, multiple=4)


def _local_fn(radius: int):
  """A nonlinear function whose output at a pixel depends on the inputs within `radius`
  pixels (two zero-padded box filters of radius/2 and a tanh), over [n, h, w, c]."""
  k = radius // 2
  box = jnp.ones((2 * k + 1, 2 * k + 1, 1, 1)) / (2 * k + 1)**2

  @jax.jit
  def fn(x):
    c = x.shape[-1]
    kernel = jnp.tile(box, (1, 1, 1, c))
    conv = lambda y: jax.lax.conv_general_dilated(y, kernel, (1, 1), "SAME", feature_group_count=c,
                                                  dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jnp.tanh(conv(jnp.sin(3 * conv(x))))
  return lambda x: chunked.chunked_apply(fn, x, chunk=4)


@pytest.mark.parametrize("height,width", [(37, 53), (64, 31)])
def test_tiled_equals_whole_when_the_overlap_holds_the_receptive_field(height, width):
  radius, blend = 6, 4
  fn = _local_fn(radius)
  image = np.random.default_rng(1).uniform(-1, 1, (height, width, 2)).astype(np.float32)
  whole = fn(image[None])[0]
  exact = tiling.tiled_apply(fn, image, tile=24, overlap=2 * radius + blend, blend=blend)
  np.testing.assert_allclose(exact, whole, atol=1e-5)
  # With less context than the receptive radius, tiles see their padding: not exact.
  short = tiling.tiled_apply(fn, image, tile=24, overlap=2 * radius + blend - 6, blend=blend)
  assert np.abs(short - whole).max() > 1e-3


def _reach(fn, x, centres) -> int:
  """How far from output pixels (c, c), c in `centres`, lie the inputs that they depend on
  (the support of their gradients), for `fn` over x [1, H, W, C]."""
  cotangents = np.zeros((len(centres),) + jax.eval_shape(fn, x).shape, np.float32)
  for i, c in enumerate(centres):
    cotangents[i, 0, c, c] = 1
  pull = jax.jit(jax.vmap(lambda ct: jax.vjp(fn, x)[1](ct)[0]))
  reach = 0
  for c, grad in zip(centres, np.asarray(pull(cotangents))):
    rows, cols = np.nonzero(np.abs(grad[0]).sum(-1) > 0)
    reach = max(reach, c - rows.min(), rows.max() - c, c - cols.min(), cols.max() - c)
  return int(reach)


# ------------------------------------------------------------------------ restoration


@pytest.fixture(scope="module")
def restoration_run():
  opts = restoration.parse(configlib.load_config("inpaint_digits:smoke"))
  return inference.Run("unused", opts.config, opts, restoration.TASK, restoration.init_state(opts, jax.random.key(0)))


@pytest.mark.parametrize("depth,dilations", [(2, (2,)), (2, (1, 2))])
def test_restoration_receptive_radius_is_the_support_of_the_gradient(depth, dilations):
  net = restoration_models.RestorationNet(channels=1, features=4, depth=depth, dilations=dilations)
  size = 112
  x = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (1, size, size, 1)), jnp.float32)
  mask = jnp.zeros((1, size, size, 1))
  params = net.init(jax.random.key(0), x, mask)["params"]
  phases = range(52, 52 + restoration_models.multiple(depth))  # Every phase of the strided grid.
  reach = _reach(lambda x: net.apply({"params": params}, x, mask), x, phases)
  assert reach == restoration_inference.receptive_radius(depth, dilations)


def test_restoration_in_tiles_equals_the_whole_image(restoration_run):
  """Odd sizes (padded to a multiple of 4, cropped back), inpainting: with the default
  blend (32) and an overlap of 2 x 28 + 32 = 88 (the smoke net's radius is 28), every
  kept output saw what it sees in the whole image."""
  rng = np.random.default_rng(2)
  image = rng.uniform(0, 1, (131, 201, 1)).astype(np.float32)
  mask = np.zeros((131, 201), bool)
  mask[40:90, 50:150] = True
  whole = restoration_inference.restore_image(restoration_run, image, mask, tile=1024)
  layout_tiles = restoration_inference.tile_sizes(restoration_run.opts)
  assert layout_tiles == (512, 88)  # Exact by construction: (88 - 32) / 2 = 28.
  tiled = restoration_inference.restore_image(restoration_run, image, mask, tile=128, overlap=88)
  np.testing.assert_allclose(tiled, whole, atol=2e-6)
  np.testing.assert_array_equal(tiled[~mask], image[~mask])  # Known pixels are copied.


def test_restoration_with_small_tiles_is_close_to_the_whole_image(restoration_run):
  """Tiles of 16 overlapping by 8 (far less context than the radius of 28): outputs
  differ from the whole image's by at most 0.05 on the [0, 1] scale (0.025 measured at
  initialisation), and the blend leaves no step at the tile borders."""
  image = np.random.default_rng(3).uniform(0, 1, (40, 56, 1)).astype(np.float32)
  no_holes = np.zeros((40, 56), bool)
  whole = restoration_inference.restore_image(restoration_run, image, no_holes, tile=1024)
  tiled = restoration_inference.restore_image(restoration_run, image, no_holes, tile=16, overlap=8)
  assert tiled.shape == whole.shape == (40, 56, 1)
  assert np.abs(tiled - whole).max() < 0.05


# ------------------------------------------------------------------------ CycleGAN


class _NoNorm(nn.Module):
  """Instance norm removed: what is left of the generator has a finite receptive field."""
  dtype: object = None

  def __call__(self, x):
    return x


@pytest.fixture(scope="module")
def cyclegan_run():
  config = configlib.load_config("cyclegan_photos:smoke")
  config.model.ngf = 4
  config.model.ndf = 4
  opts = cyclegan.parse(config)
  return inference.Run("unused", opts.config, opts, cyclegan.TASK, cyclegan.init_state(opts, jax.random.key(0)))


@pytest.fixture
def no_instance_norm(monkeypatch):
  """The CycleGAN generator without instance norm; jit caches cleared on both sides, as
  they would otherwise serve programs traced with (or without) it."""
  monkeypatch.setattr(cyclegan_models, "InstanceNorm", _NoNorm)
  jax.clear_caches()
  yield
  monkeypatch.undo()
  jax.clear_caches()


def test_cyclegan_receptive_radius_is_the_support_of_the_gradient(no_instance_norm):
  g = cyclegan_models.ResnetGenerator(ngf=4, n_blocks=1)
  x = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (1, 80, 80, 3)), jnp.float32)
  params = g.init(jax.random.key(0), x)["params"]
  reach = _reach(lambda x: g.apply({"params": params}, x), x, range(38, 42))
  assert reach == cyclegan_inference.receptive_radius(1)


def test_cyclegan_tiles_differ_only_by_instance_norm(cyclegan_run, request):
  """The smoke generator (2 blocks, radius 28) on 83x130: without instance norm, tiles
  with the default blend and an overlap of 2 x 28 + 32 give the whole-image result
  (to uint8 rounding); with it, each tile's statistics shift its colours a little."""
  coarse = np.random.default_rng(4).uniform(0, 255, (9, 13, 3)).astype(np.float32)
  image = np.asarray(jax.image.resize(coarse, (83, 130, 3), "linear")).astype(np.uint8)  # Smooth, like a photo.
  normed = [cyclegan_inference.translate(cyclegan_run, image, tile=t, overlap=88) for t in (1024, 112)]
  request.getfixturevalue("no_instance_norm")
  whole, tiled = [cyclegan_inference.translate(cyclegan_run, image, tile=t, overlap=88) for t in (1024, 112)]
  assert tiled.shape == whole.shape == image.shape
  assert np.abs(tiled.astype(int) - whole).max() <= 1
  assert np.abs(normed[1].astype(int) - normed[0]).max() > 1
