"""The "clean" resize mode against clean-fid's own resizer (which needs no weights)."""

import numpy as np
import pytest

from aigc_jax.metrics import inception


@pytest.mark.parametrize("shape", [(16, 16), (64, 48), (299, 299), (400, 333)])
def test_clean_resize_equals_clean_fid(make_images, shape):
  resize = pytest.importorskip("cleanfid.resize")
  images = make_images(3, 2, *shape)
  want = np.stack([resize.build_resizer("clean")(image) for image in images])
  got = inception.resize_clean(images)
  assert got.dtype == want.dtype == np.float32
  # Both call PIL's float bicubic filter per channel and clip: bit-identical.
  np.testing.assert_array_equal(got, want)


def test_default_mode_is_pytorch_fids_not_clean_fids(make_images):
  # The default stays pytorch-fid's bilinear resize: on a downscale it differs from
  # clean-fid's antialiased one by far more than rounding.
  resize = pytest.importorskip("cleanfid.resize")
  images = make_images(4, 1, 400, 333)
  clean = resize.build_resizer("clean")(images[0]) / 255 * 2 - 1
  default = np.asarray(inception._preprocess(images))[0]
  assert np.abs(default - clean).max() > 0.1


@pytest.mark.parametrize("shape", [(16, 16), (400, 333)])
def test_default_mode_equals_clean_fids_legacy_pytorch_mode(make_images, shape):
  resize = pytest.importorskip("cleanfid.resize")
  images = make_images(5, 2, *shape)
  want = np.stack([resize.build_resizer("legacy_pytorch")(image) for image in images])
  got = (np.asarray(inception._preprocess(images)) + 1) / 2 * 255
  # clean-fid resizes [0, 255] values, the port [0, 1] ones (pytorch-fid's order).
  np.testing.assert_allclose(got, want, atol=2e-3)


def test_clean_mode_feeds_the_network_what_clean_fid_does(make_images):
  # clean-fid's "clean" mode: its resizer, then (x - 128) / 128 inside the TF graph it
  # runs (cleanfid.inception_torchscript), not pytorch-fid's x / 255 * 2 - 1.
  resize = pytest.importorskip("cleanfid.resize")
  torch = pytest.importorskip("torch")
  images = make_images(6, 2, 64, 48)
  x = torch.from_numpy(np.stack([resize.build_resizer("clean")(image) for image in images]))
  want = ((x - 128) / 128).numpy()
  np.testing.assert_array_equal(inception.network_input(images, "clean"), want)
