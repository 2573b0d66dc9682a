"""Feature extraction: resizing, batching, streaming, devices, and images_metrics."""

import os
import subprocess
import sys

import numpy as np
import pytest

from aigc_jax.errors import UserError
from aigc_jax.metrics import (FeatureStats, images_metrics, inception,
                              inception_features, inception_score,
                              kernel_inception_distance)

# Tiny inputs: every image is resized to 299 anyway, so small ones cost as much compute
# as large ones but keep the host work and the subprocess payload small.
N = 7  # = 3 * batch + 1 with the suite's batch of 2


def rel_diff(a, b):
  return np.abs(a - b).max() / np.abs(b).max()


@pytest.fixture(scope="module")
def images(make_images):
  return make_images(0, N, 16, 16)


@pytest.fixture(scope="module")
def one_pass(jax_variables, images):
  """All N images in one (padded) batch."""
  return inception_features(jax_variables, images, batch_size=8)


# ----------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("shape", [(16, 16), (37, 64), (299, 299), (300, 451)])
def test_pytorch_resize_matches_torch_interpolate(make_images, shape):
  torch = pytest.importorskip("torch")
  images = make_images(1, 2, *shape)
  x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
  want = 2 * torch.nn.functional.interpolate(
      x, size=(299, 299), mode="bilinear", align_corners=False) - 1
  got = np.asarray(inception._preprocess(images))
  # Same taps and weights; torch's vectorised kernel rounds its sums differently, which
  # leaves ~1e-6 (of a [-1, 1] range), far below anything the features resolve.
  np.testing.assert_allclose(got, want.permute(0, 2, 3, 1).numpy(), atol=1e-5)


def test_grey_images_are_repeated_to_rgb(make_images):
  grey = make_images(2, 2, 20, 30, c=1)
  np.testing.assert_array_equal(np.asarray(inception._preprocess(grey)),
                                np.asarray(inception._preprocess(np.repeat(grey, 3, -1))))


def test_clean_resize_antialiases(make_images):
  # A one-pixel checkerboard averages to mid-grey when filtered before downsampling;
  # pytorch-fid's bilinear resize only samples it, so keeps much of its contrast.
  board = (np.indices((640, 640)).sum(0) % 2 * 255).astype(np.uint8)
  board = np.repeat(board[None, :, :, None], 3, -1)
  clean = inception.resize_clean(board)
  sampled = (np.asarray(inception._preprocess(board)) + 1) / 2 * 255
  assert np.abs(clean[:, 8:-8, 8:-8] - 127.5).max() < 3
  assert np.abs(sampled - 127.5).max() > 50
  # At 299x299 there is nothing to resize, and values stay in [0, 255].
  same = make_images(3, 1, 299, 299)
  np.testing.assert_array_equal(inception.resize_clean(same), same.astype(np.float32))
  assert inception.resize_clean(make_images(4, 1, 40, 40)).max() <= 255


def test_rebatch_keeps_every_image_in_order():
  sizes = [3, 1, 4, 2]
  batches = [np.full((n, 2, 2, 3), i, np.uint8) for i, n in enumerate(sizes)]
  batches.append(np.full((2, 5, 5, 3), 9, np.uint8))  # another image size starts a batch
  out = list(inception._rebatch(iter(batches), 4))
  assert [b.shape[0] for b in out] == [4, 4, 2, 2]
  np.testing.assert_array_equal(np.concatenate([b[:, 0, 0, 0] for b in out]),
                                [0, 0, 0, 1, 2, 2, 2, 2, 3, 3, 9, 9])


# -------------------------------------------------------------------- extraction


def test_features_vary_across_images(one_pass):
  pool3, logits = one_pass
  assert pool3.shape == (N, 2048) and logits.shape == (N, 1008)
  assert pool3.dtype == logits.dtype == np.float32
  assert rel_diff(pool3[0], pool3[1]) > 1e-2  # else the tests below prove nothing


def test_streaming_keeps_every_sample(jax_variables, images, one_pass, batch):
  """N = 3 * batch + 1: the last batch is padded, and the padding cut off again."""
  pool3, logits = inception_features(jax_variables, images, batch_size=batch)
  assert pool3.shape[0] == logits.shape[0] == N
  assert rel_diff(pool3, one_pass[0]) < 1e-5
  assert rel_diff(logits, one_pass[1]) < 1e-5
  # Any input batching (an iterable of uneven batches) gives the same features.
  pool3_iter, _ = inception_features(jax_variables, iter([images[:3], images[3:4], images[4:]]),
                                     batch_size=batch)
  np.testing.assert_array_equal(pool3_iter, pool3)
  # Statistics accumulated batch by batch equal those of the whole array.
  stats = FeatureStats()
  for part in np.split(pool3, [2, 4, 6]):
    stats.update(part)
  mu, sigma = stats.mean_cov()
  np.testing.assert_allclose(mu, pool3.astype(np.float64).mean(0), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(sigma, np.cov(pool3.astype(np.float64), rowvar=False),
                             rtol=1e-4, atol=1e-5)


def test_eight_host_devices_give_the_same_features(jax_weights_file, images, one_pass,
                                                   tmp_path):
  """A subprocess with 8 forced CPU devices (the flag must not leak into this process)."""
  np.save(tmp_path / "images.npy", images)
  script = (
      "import os, sys, numpy as np, jax\n"
      "if os.environ.get('AIGC_JAX_CACHE_DIR'):\n"
      "  jax.config.update('jax_compilation_cache_dir', os.environ['AIGC_JAX_CACHE_DIR'])\n"
      "from aigc_jax.metrics import inception\n"
      "assert len(jax.local_devices()) == 8, jax.local_devices()\n"
      "v = inception.load_params(sys.argv[1])\n"
      "p, l = inception.inception_features(v, np.load(sys.argv[2]), batch_size=6)\n"
      "np.savez(sys.argv[3], pool3=p, logits=l)\n")
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS="--xla_force_host_platform_device_count=8")
  result = subprocess.run(
      [sys.executable, "-c", script, str(jax_weights_file), str(tmp_path / "images.npy"),
       str(tmp_path / "out.npz")], env=env, capture_output=True, text=True, timeout=600,
      cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
  assert result.returncode == 0, result.stderr[-3000:]
  with np.load(tmp_path / "out.npz") as out:
    assert out["pool3"].shape == (N, 2048)  # 6 -> 8 per step, 7 images -> 2 padded steps
    assert rel_diff(out["pool3"], one_pass[0]) < 1e-5
    assert rel_diff(out["logits"], one_pass[1]) < 1e-5


def test_weights_file_round_trip(jax_variables, jax_weights_file):
  loaded = inception.load_params(jax_weights_file)
  flat = lambda v: dict(inception.traverse_util.flatten_dict(v, sep="/"))
  a, b = flat(jax_variables), flat(loaded)
  assert a.keys() == b.keys()
  for k in a:
    np.testing.assert_array_equal(a[k], b[k])


def test_load_params_rejects_other_files(tmp_path):
  with pytest.raises(UserError, match="not found"):
    inception.load_params(tmp_path / "missing.safetensors")
  (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
  with pytest.raises(UserError):
    inception.load_params(tmp_path / "junk.safetensors")


# ----------------------------------------------------------------- images_metrics


def test_images_metrics(jax_variables, jax_weights_file, images, make_images, batch,
                        tmp_path, monkeypatch):
  # Record what reaches frechet_distance, and compute only the first 2048-d distance:
  # its eigendecompositions take seconds, or tens of seconds on a 2-core machine shared
  # with other jobs. The distance itself is tested against pytorch-fid in test_fid.py.
  from aigc_jax.metrics import fid, images as images_module, save_stats
  calls = []

  def recording_distance(*args):
    calls.append((args, fid.frechet_distance(*args) if not calls else 1.25))
    return calls[-1][1]

  monkeypatch.setattr(images_module, "frechet_distance", recording_distance)
  ref = make_images(5, 5, 24, 24)
  ref_pool3, _ = inception_features(jax_variables, ref, batch_size=batch)
  got = images_metrics(images, weights_path=jax_weights_file, ref_images=ref,
                       batch_size=batch, progress=False)
  # Features at the same batch size: XLA's convolutions round a little differently per
  # batch shape, which moves near-zero covariance entries by more than atol.
  pool3, logits = inception_features(jax_variables, images, batch_size=batch)
  assert got["num_images"] == N
  want_args = (*FeatureStats().update(pool3).mean_cov(),
               *FeatureStats().update(ref_pool3).mean_cov())
  for arg, want in zip(calls[0][0], want_args):
    np.testing.assert_allclose(arg, want, rtol=1e-4, atol=1e-5)
  assert got["fid"] == calls[0][1] and np.isfinite(got["fid"])
  want_is = inception_score(inception.unbiased_logits(jax_variables, logits), splits=N)
  assert (got["is_mean"], got["is_std"]) == pytest.approx(want_is, rel=1e-4)
  want_kid = kernel_inception_distance(pool3, ref_pool3)
  assert (got["kid_mean"], got["kid_std"]) == pytest.approx(want_kid, rel=1e-3)

  # FID against a statistics file, with batches as input.
  save_stats(tmp_path / "ref.npz", *want_args[2:])
  got_file = images_metrics(iter([images[:4], images[4:]]), metrics="fid",
                            weights_path=jax_weights_file, ref_path=tmp_path / "ref.npz",
                            batch_size=batch, progress=False)
  assert got_file == {"num_images": N, "fid": 1.25}
  for arg, want in zip(calls[1][0], want_args):
    np.testing.assert_allclose(arg, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(metrics=("fid",)), "FID needs a reference"),
    (dict(metrics=("kid",), ref_path="ref.npz"), "KID needs reference images"),
    (dict(metrics=("fid", "bogus"), ref_path="ref.npz"), "unknown metrics"),
])
def test_images_metrics_argument_errors(kwargs, message, jax_weights_file):
  with pytest.raises(UserError, match=message):
    images_metrics(np.zeros((2, 8, 8, 3), np.uint8), weights_path=jax_weights_file, **kwargs)


def test_missing_weights_message(monkeypatch, tmp_path):
  from aigc_jax.metrics import require_inception_weights
  monkeypatch.delenv("AIGC_INCEPTION_WEIGHTS", raising=False)
  with pytest.raises(UserError) as e:
    require_inception_weights(None)
  message = str(e.value)
  assert "\n" not in message
  assert "pt_inception-2015-12-05-6726825d.pth" in message
  assert ("aigc convert-inception pt_inception-2015-12-05-6726825d.pth "
          "inception_fid.safetensors") in message
  assert "--inception-weights" in message and "AIGC_INCEPTION_WEIGHTS" in message
  monkeypatch.setenv("AIGC_INCEPTION_WEIGHTS", str(tmp_path / "nope.safetensors"))
  with pytest.raises(UserError, match="not found"):
    require_inception_weights(None)
  (tmp_path / "w.safetensors").write_bytes(b"")
  monkeypatch.setenv("AIGC_INCEPTION_WEIGHTS", str(tmp_path / "w.safetensors"))
  assert require_inception_weights(None) == str(tmp_path / "w.safetensors")
