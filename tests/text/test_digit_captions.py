"""The captioned digits: measured properties, levels and captions."""

import numpy as np

from aigc_jax.data import digit_captions


def _stroke(shear: float, width: int = 1) -> np.ndarray:
  """A vertical bar of the given width, sheared: uint8 [1, 16, 16, 1]."""
  image = np.zeros((16, 16), np.uint8)
  for y in range(2, 14):
    x = int(round(8 + shear * (8 - y)))
    image[y, x:x + width] = 255
  return image[None, :, :, None]


def test_slant_sign_and_thickness_order():
  _, right = digit_captions.measure(_stroke(0.5))
  _, left = digit_captions.measure(_stroke(-0.5))
  _, upright = digit_captions.measure(_stroke(0.0))
  assert right[0] > 0.3 and left[0] < -0.3 and abs(upright[0]) < 1e-6
  thin, _ = digit_captions.measure(_stroke(0.0, 1))
  thick, _ = digit_captions.measure(_stroke(0.0, 3))
  assert thick[0] > 2 * thin[0]


def test_measurements_hardly_depend_on_resolution():
  images = np.repeat(np.repeat(_stroke(0.4, 2), 2, axis=1), 2, axis=2)  # 32x32, the same picture.
  np.testing.assert_allclose(digit_captions.measure(images), digit_captions.measure(_stroke(0.4, 2)), rtol=0.05)


def test_levels_are_terciles_of_the_training_split():
  from aigc_jax.data import digits
  images, labels = digits.load_digits_arrays()
  idx = digits.split_indices()["train"]
  thickness, slant = digit_captions.train_stats().levels(images[idx], labels[idx])
  for levels in (thickness, slant):
    counts = np.bincount(levels + 1, minlength=3)
    assert counts.min() >= 0.3 * len(idx)


def test_captions_name_the_digit_and_the_levels():
  rng = np.random.default_rng(0)
  seen = set()
  for _ in range(50):
    text = digit_captions.caption(7, 1, -1, rng)
    seen.add(text)
    assert "7" in text or "seven" in text
    assert any(w in text for w in digit_captions.THICKNESS_WORDS[1])
    assert any(p in text for p in digit_captions.SLANT_PHRASES[-1])
  assert len(seen) > 10  # Several templates and synonyms.
