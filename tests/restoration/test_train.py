"""The restoration task: corruption, the train step, restoring, evaluation and the data."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax import configlib, evaluation, inference
from aigc_jax.data import restoration_data
from aigc_jax.errors import UserError
from aigc_jax.evaluation import restoration as restoration_evaluation
from aigc_jax.inference import restoration as restoration_inference
from aigc_jax.models import restoration as restoration_models
from aigc_jax.restoration import baselines
from aigc_jax.train import restoration

METHODS = ("model", "nlmeans", "mean_fill")  # What `aigc eval` compares on a restoration run.


def _config(spec="inpaint_digits:smoke", **overrides):
  """A shipped config with `overrides` set as `--config.KEY=VALUE` sets them (type-checked)."""
  config = configlib.load_config(spec)
  for key, value in overrides.items():
    configlib.set_value(config, key, value)
  return config


def _opts(spec="inpaint_digits:smoke", **overrides):
  return restoration.parse(_config(spec, **overrides))


def _run(opts, state):
  """A Run holding an in-memory state (nothing on disk)."""
  return inference.Run("unused", opts.config, opts, restoration.TASK, state)


def _images(b=8, r=16, c=1, seed=0):
  return jax.random.uniform(jax.random.key(seed), (b, r, r, c), minval=-1, maxval=1)


def test_network_keeps_size_and_range_and_needs_the_multiple():
  net = restoration_models.RestorationNet(channels=3, features=4, depth=2, dilations=(2,))
  x, m = jnp.zeros((2, 12, 20, 3)), jnp.zeros((2, 12, 20, 1))
  params = net.init(jax.random.key(0), x, m)
  y = net.apply(params, x + 0.3, m)
  assert y.shape == (2, 12, 20, 3) and float(jnp.abs(y).max()) <= 1.0
  with pytest.raises(UserError, match="multiple of 4"):
    _opts(**{"data.resolution": 18})  # Refused when the config is loaded.


def test_inpainting_corruption_holes_and_composite_keeps_known_pixels():
  opts = _opts()
  images = _images()
  corrupted, mask = restoration.corrupt(opts, jax.random.key(1), images)
  assert mask.shape == (8, 16, 16, 1) and set(np.unique(mask)) <= {0.0, 1.0}
  assert float(mask.mean()) > 0.05
  np.testing.assert_array_equal(np.where(mask > 0, 0.0, images), corrupted)
  out = jnp.full_like(images, 0.25)
  composite = restoration.restored(opts, out, corrupted, mask)
  np.testing.assert_array_equal(np.where(mask > 0, 0.25, images), composite)
  # A fixed kind: every image gets the centre box of `mask.center_fraction`.
  _, center = restoration.corrupt(opts, jax.random.key(1), images, "center")
  assert np.all(center[:, 4:12, 4:12] == 1) and float(center.sum()) == 8 * 64


def test_denoising_corruption_is_noise_of_the_configured_sigma():
  opts = _opts("denoise_digits:smoke")
  images = jnp.zeros((64, 16, 16, 1))
  noisy, mask = restoration.corrupt(opts, jax.random.key(2), images)
  assert float(mask.sum()) == 0
  # sigma 0.2 on [0, 1] is 0.4 on the model's [-1, 1].
  assert float(jnp.std(noisy)) == pytest.approx(2 * opts.noise_sigma, rel=0.05)


@pytest.mark.parametrize("spec", ["inpaint_digits:smoke", "denoise_digits:smoke"])
def test_train_step_lowers_the_l1_on_a_fixed_batch(spec):
  opts = _opts(spec)
  state = restoration.init_state(opts, jax.random.key(0))
  step = jax.jit(restoration.make_train_step(opts))
  batch = {"image": _images()}
  first = None
  for i in range(15):
    new_state, m = step(state, batch, jax.random.key(7))  # Same corruption every step.
    if i == 0:
      first = float(m["l1"])
      for name in ("g_params", "d_params"):
        before, after = jax.tree.leaves(getattr(state, name)), jax.tree.leaves(getattr(new_state, name))
        assert all(not np.array_equal(a, b) for a, b in zip(before, after, strict=True)), name
    state = new_state
  assert all(np.isfinite(float(v)) for v in m.values())
  assert int(state.step) == 15 and float(m["l1"]) < first


def test_the_holes_content_reaches_no_method():
  # Two images that differ only inside the holes must be restored identically by the
  # model, non-local means and mean fill.
  opts = _opts()
  state = restoration.init_state(opts, jax.random.key(0))
  a = np.asarray(_images(4))
  mask = np.asarray(restoration.draw_masks(opts, jax.random.key(3), "center", 4))
  b = np.where(mask[..., None], -a, a)
  nl = opts.nlmeans
  for images in (a, b):
    corrupted, mask4 = restoration.fixed_corruption(opts, images, jax.random.key(9), "center")
    np.testing.assert_array_equal(mask4[..., 0] > 0.5, mask)
    outs = [restoration.restore(opts, state, corrupted, mask4),
            baselines.nlmeans_restore(opts.mode, (corrupted + 1) / 2, mask, patch_size=nl.patch_size,
                                      patch_distance=nl.patch_distance, h=nl.h, sigma=opts.noise_sigma),
            baselines.mean_fill(opts.mode, (corrupted + 1) / 2, mask)]
    if images is a:
      first = outs
  for x, y in zip(first, outs, strict=True):
    np.testing.assert_array_equal(x, y)
  # The same through the single-image path of `aigc inpaint`: anything in the holes.
  run = _run(opts, state)
  one = restoration_inference.restore_image(run, (a[0] + 1) / 2, mask[0])
  two = restoration_inference.restore_image(run, np.where(mask[0, ..., None], np.nan, (a[0] + 1) / 2), mask[0])
  np.testing.assert_array_equal(one, two)


def test_evaluate_reports_every_method_and_the_model_copies_known_pixels():
  opts = _opts()
  run = _run(opts, restoration.init_state(opts, jax.random.key(0)))
  result = restoration_evaluation.evaluate(run, num_samples=12)
  assert result["num_images"] == 12 and result["mask_type"] == "center"
  for method in METHODS:
    for key in ("psnr", "ssim", "psnr_hole", "ssim_hole"):
      assert np.isfinite(result[f"{key}_{method}"]), (key, method)
  with pytest.raises(UserError, match="unknown mask type"):
    restoration_evaluation.evaluate(run, num_samples=12, mask_type="circles")
  # Restoration reports PSNR and SSIM only: `aigc eval --metrics` is a one-line error.
  with pytest.raises(UserError, match="--metrics does not apply to a 'restoration' run"):
    evaluation.evaluate(run, num_samples=12, metrics=["fid"])


def test_mean_fill_and_its_denoising_form():
  images = np.random.default_rng(0).uniform(0, 1, (2, 6, 6, 3)).astype(np.float32)
  mask = np.zeros((2, 6, 6), bool)
  mask[:, 2:4, 2:4] = True
  filled = baselines.mean_fill(_opts().mode, images, mask)
  known_mean = images[0][~mask[0]].mean(axis=0)
  np.testing.assert_allclose(filled[0, 2, 3], known_mean, rtol=1e-5)
  np.testing.assert_array_equal(filled[~mask], images[~mask])
  smooth = baselines.mean_fill(_opts("denoise_digits:smoke").mode, images, mask)
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
  # Both are refused when the config is loaded, before a state or a step is built.
  with pytest.raises(UserError, match="unknown restoration mode"):
    _opts(mode="deblur")
  with pytest.raises(UserError, match="mask.train_types"):
    _opts(**{"mask.train_types": "center,blobs"})
