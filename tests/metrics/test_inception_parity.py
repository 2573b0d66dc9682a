"""Parity of the Flax FID Inception with pytorch-fid's, on uint8 images of many sizes."""

import numpy as np
import pytest

from aigc_jax.metrics import inception, inception_features

# Smaller and larger than 299, non-square, and one grey image set (1 channel).
SHAPES = [(32, 32, 3), (64, 48, 1), (299, 299, 3), (400, 333, 3)]
TOLERANCE = 1e-4


def relative_error(a, b):
  return np.abs(a - b).max() / np.abs(b).max()


@pytest.fixture(scope="module")
def converted(torch_reference):
  return inception.params_from_torch_state_dict(torch_reference[2])


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matches_pytorch_fid(reference_features, converted, make_images, batch, shape):
  images = make_images(sum(shape), 2, *shape)
  want_pool3, want_logits = reference_features(images)
  pool3, logits = inception_features(converted, images, batch_size=batch)
  assert pool3.shape == (2, 2048) and logits.shape == (2, 1008)
  # The comparison means something only if the features depend on the image far more
  # than the tolerance: two calibrated-reference images differ by ~10% of the largest feature.
  assert relative_error(want_pool3[0], want_pool3[1]) > 100 * TOLERANCE
  assert relative_error(want_logits[0], want_logits[1]) > 100 * TOLERANCE
  assert relative_error(pool3, want_pool3) < TOLERANCE
  assert relative_error(logits, want_logits) < TOLERANCE


def test_conversion_rejects_wrong_state_dict(torch_reference):
  state_dict = dict(torch_reference[2])
  del state_dict["Mixed_7c.branch_pool.conv.weight"]
  with pytest.raises(ValueError, match="missing"):
    inception.params_from_torch_state_dict(state_dict)
