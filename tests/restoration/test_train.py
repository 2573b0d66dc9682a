"""The restoration task: corruption, the train step, restoring, evaluation and the data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax import configlib
from aigc_jax.data import restoration_data
from aigc_jax.errors import UserError
from aigc_jax.models import restoration as restoration_models
from aigc_jax.train import restoration


def _config(spec="inpaint_digits:smoke", **overrides):
  config = configlib.load_config(spec)
  for key, value in overrides.items():
    node = config
    *path, last = key.split(".")
    for part in path:
      node = node[part]
    node[last] = value
  return config


def _images(b=8, r=16, c=1, seed=0):
  return jax.random.uniform(jax.random.key(seed), (b, r, r, c), minval=-1, maxval=1)


def test_network_keeps_size_and_range_and_needs_the_multiple():
  net = restoration_models.RestorationNet(channels=3, features=4, depth=2, dilations=(2,))
  x, m = jnp.zeros((2, 12, 20, 3)), jnp.zeros((2, 12, 20, 1))
  params = net.init(jax.random.key(0), x, m)
  y = net.apply(params, x + 0.3, m)
  assert y.shape == (2, 12, 20, 3) and float(jnp.abs(y).max()) <= 1.0
  with pytest.raises(UserError, match="multiple of 4"):
    restoration.build_models(_config(**{"data.resolution": 18}))


def test_inpainting_corruption_holes_and_composite_keeps_known_pixels():
  config = _config()
  images = _images()
  corrupted, mask = restoration.corrupt(config, jax.random.key(1), images)
  assert mask.shape == (8, 16, 16, 1) and set(np.unique(mask)) <= {0.0, 1.0}
  assert float(mask.mean()) > 0.05
  np.testing.assert_array_equal(np.where(mask > 0, 0.0, images), corrupted)
  out = jnp.full_like(images, 0.25)
  composite = restoration.restored(config, out, corrupted, mask)
  np.testing.assert_array_equal(np.where(mask > 0, 0.25, images), composite)
  # A fixed kind: every image gets the centre box of `mask.center_fraction`.
  _, center = restoration.corrupt(config, jax.random.key(1), images, "center")
  assert np.all(center[:, 4:12, 4:12] == 1) and float(center.sum()) == 8 * 64


def test_denoising_corruption_is_noise_of_the_configured_sigma():
  config = _config("denoise_digits:smoke")
  images = jnp.zeros((64, 16, 16, 1))
  noisy, mask = restoration.corrupt(config, jax.random.key(2), images)
  assert float(mask.sum()) == 0
  # sigma 0.2 on [0, 1] is 0.4 on the model's [-1, 1].
  assert float(jnp.std(noisy)) == pytest.approx(2 * config.noise_sigma, rel=0.05)


@pytest.mark.parametrize("spec", ["inpaint_digits:smoke", "denoise_digits:smoke"])
def test_train_step_lowers_the_l1_on_a_fixed_batch(spec):
  config = _config(spec)
  state = restoration.init_state(config, jax.random.key(0))
  step = jax.jit(restoration.make_train_step(config))
  batch = {"image": _images()}
  first = None
  for i in range(15):
    new_state, m = step(state, batch, jax.random.key(7))  # Same corruption every step.
    if i == 0:
      first = float(m["l1"])
      for name in ("g_params", "d_params"):
        before, after = jax.tree.leaves(getattr(state, name)), jax.tree.leaves(getattr(new_state, name))
        assert all(not np.array_equal(a, b) for a, b in zip(before, after)), name
    state = new_state
  assert all(np.isfinite(float(v)) for v in m.values())
  assert int(state.step) == 15 and float(m["l1"]) < first


def test_the_holes_content_reaches_no_method():
  # Two images that differ only inside the holes must be restored identically by the
  # model, non-local means and mean fill.
  config = _config()
  state = restoration.init_state(config, jax.random.key(0))
  a = np.asarray(_images(4))
  mask = np.asarray(restoration.draw_masks(config, jax.random.key(3), "center", 4))
  b = np.where(mask[..., None], -a, a)
  for images in (a, b):
    corrupted, mask4 = restoration._fixed_corruption(config, images, jax.random.key(9), "center")
    np.testing.assert_array_equal(mask4[..., 0] > 0.5, mask)
    outs = [restoration.restore(config, state, corrupted, mask4),
            restoration.nlmeans_restore(config, (corrupted + 1) / 2, mask),
            restoration.mean_fill(config, (corrupted + 1) / 2, mask)]
    if images is a:
      first = outs
  for x, y in zip(first, outs):
    np.testing.assert_array_equal(x, y)
  # The same through the single-image path of `aigc inpaint`: anything in the holes.
  one = restoration.restore_image(config, state, (a[0] + 1) / 2, mask[0])
  two = restoration.restore_image(config, state, np.where(mask[0, ..., None], np.nan, (a[0] + 1) / 2), mask[0])
  np.testing.assert_array_equal(one, two)


def test_evaluate_reports_every_method_and_the_model_copies_known_pixels():
  config = _config()
  state = restoration.init_state(config, jax.random.key(0))
  result = restoration.evaluate(config, state, {"num_samples": 12})
  assert result["num_images"] == 12 and result["mask_type"] == "center"
  for method in restoration.METHODS:
    for key in ("psnr", "ssim", "psnr_hole", "ssim_hole"):
      assert np.isfinite(result[f"{key}_{method}"]), (key, method)
  with pytest.raises(UserError, match="unknown mask type"):
    restoration.evaluate(config, state, {"num_samples": 12, "mask_type": "circles"})
  with pytest.raises(UserError, match="PSNR and SSIM"):
    restoration.evaluate(config, state, {"num_samples": 12, "metrics": ["fid"]})


def test_mean_fill_and_its_denoising_form():
  images = np.random.default_rng(0).uniform(0, 1, (2, 6, 6, 3)).astype(np.float32)
  mask = np.zeros((2, 6, 6), bool)
  mask[:, 2:4, 2:4] = True
  filled = restoration.mean_fill(_config(), images, mask)
  known_mean = images[0][~mask[0]].mean(axis=0)
  np.testing.assert_allclose(filled[0, 2, 3], known_mean, rtol=1e-5)
  np.testing.assert_array_equal(filled[~mask], images[~mask])
  smooth = restoration.mean_fill(_config("denoise_digits:smoke"), images, mask)
  np.testing.assert_allclose(smooth[0, 2, 2], images[0, 1:4, 1:4].mean(axis=(0, 1)), rtol=1e-5)


def test_photo_crops_are_rgb_held_out_and_batched():
  config = _config("inpaint_photos:smoke", batch_size=4)
  test = restoration_data.test_images(config)
  assert test.shape == (128, 32, 32, 3) and test.min() >= -1 and test.max() <= 1
  batches = restoration_data.train_batches(config, start_step=3)
  again = restoration_data.train_batches(config, start_step=3)
  a, b = next(batches), next(again)
  assert a["image"].shape == (4, 32, 32, 3)
  np.testing.assert_array_equal(a["image"], b["image"])  # A batch is a function of (seed, step).
  train = restoration_data.split_images(config, "train")
  assert train.shape == (2048, 32, 32, 3)
  # The splits draw their positions from different seeds (aigc_jax/data/photos.py: the
  # same scenes, so a position may recur by chance, but the splits are not one list).
  train_set = {t.tobytes() for t in train}
  assert sum(t.tobytes() in train_set for t in test) < 10


def test_unknown_mode_and_mask_kinds_are_user_errors():
  with pytest.raises(UserError, match="unknown restoration mode"):
    restoration.init_state(_config(mode="deblur"), jax.random.key(0))
  with pytest.raises(UserError, match="mask.train_types"):
    restoration.corrupt(_config(**{"mask.train_types": "center,blobs"}), jax.random.key(0), _images())
