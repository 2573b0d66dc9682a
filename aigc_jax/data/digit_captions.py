"""Captions for `digits` made from each image's label and properties measured on it.

Two properties are measured on every image (`measure`), on the [0, 1] ink scale, so
the numbers hardly change with the resolution the image is shown at:
- thickness, from the ink mass: the mean ink of the image;
- slant, from the second moments of the ink: `-cov(x, y) / var(y)` with y pointing
  down, the horizontal shift of the ink per unit of height (positive: the top leans
  right), the shear that deskewing removes.
Both depend on the digit as well as the writer (a 7's diagonal makes it lean right,
a 6 leans left), so each is taken relative to the median of its class over the
training split (`DigitStats`), and cut into three levels at the training split's
terciles of those relative values: -1 (thin / leaning left), 0 (medium / upright),
1 (thick / leaning right). Size and position are not described: the UCI digits are
scaled and centred into their 8x8 box, so they hardly vary.

A caption (`caption`) names the digit as a numeral or a word and the two levels with
one of several templates and synonyms, e.g. "a thick seven leaning right", "7, thin
and upright", "the digit 3, slanted left, with bold strokes". Each training image has
`CAPTIONS_PER_IMAGE` captions drawn with a fixed seed, so every run sees the same text.
"""

import functools
from typing import NamedTuple

import numpy as np

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
THICKNESS_WORDS = {-1: ("thin", "light", "fine"), 0: ("medium", "regular"), 1: ("thick", "bold", "heavy")}
SLANT_PHRASES = {-1: ("leaning left", "slanted left", "tilted to the left"),
                 0: ("upright", "straight", "standing straight"),
                 1: ("leaning right", "slanted right", "tilted to the right")}
# {n}: the digit, {t}: a thickness word, {s}: a slant phrase.
TEMPLATES = (
    "a {t} {n} {s}",
    "{n}, {t} and {s}",
    "the digit {n}, {s}, with {t} strokes",
    "a {n} written with {t} strokes, {s}",
    "{s}, a {t} {n}",
    "{t} {n}, {s}",
)
CAPTIONS_PER_IMAGE = 5
CAPTION_SEED = 20240102


def measure(images_uint8) -> tuple[np.ndarray, np.ndarray]:
  """uint8 [N, H, W, 1] -> (ink float64 [N], slant float64 [N]), see the module docstring."""
  ink = np.asarray(images_uint8, np.float64)[..., 0] / 255.0
  _, h, w = ink.shape
  ys, xs = np.mgrid[0:h, 0:w]
  ys, xs = (ys + 0.5) / h, (xs + 0.5) / w
  mass = ink.sum((1, 2)) + 1e-8
  cx = (ink * xs).sum((1, 2)) / mass
  cy = (ink * ys).sum((1, 2)) / mass
  dy = ys[None] - cy[:, None, None]
  var_y = (ink * dy**2).sum((1, 2)) / mass
  cov_xy = (ink * (xs[None] - cx[:, None, None]) * dy).sum((1, 2)) / mass
  return ink.mean((1, 2)), -cov_xy / (var_y + 1e-8)


class DigitStats(NamedTuple):
  """Per-class medians of ink and slant [10] and the tercile cuts (2,) of the relative
  values, from the training split: what turns measurements into levels."""
  ink_median: np.ndarray
  slant_median: np.ndarray
  ink_cuts: np.ndarray
  slant_cuts: np.ndarray

  def relative(self, images_uint8, labels) -> tuple[np.ndarray, np.ndarray]:
    """(thickness, slant) [N] of images of the given classes, relative to their class."""
    ink, slant = measure(images_uint8)
    labels = np.asarray(labels)
    return ink - self.ink_median[labels], slant - self.slant_median[labels]

  def levels(self, images_uint8, labels) -> tuple[np.ndarray, np.ndarray]:
    """(thickness level, slant level) int [N], each in {-1, 0, 1}."""
    thickness, slant = self.relative(images_uint8, labels)
    return np.digitize(thickness, self.ink_cuts) - 1, np.digitize(slant, self.slant_cuts) - 1


def fit_stats(images_uint8, labels) -> DigitStats:
  """The `DigitStats` of a labelled set of digit images (the training split)."""
  ink, slant = measure(images_uint8)
  labels = np.asarray(labels)
  ink_median = np.array([np.median(ink[labels == c]) for c in range(10)])
  slant_median = np.array([np.median(slant[labels == c]) for c in range(10)])
  rel_ink, rel_slant = ink - ink_median[labels], slant - slant_median[labels]
  return DigitStats(ink_median, slant_median, np.quantile(rel_ink, [1 / 3, 2 / 3]),
                    np.quantile(rel_slant, [1 / 3, 2 / 3]))


@functools.lru_cache(maxsize=1)
def train_stats() -> DigitStats:
  """The `DigitStats` of the digits training split (at their native 8x8)."""
  from aigc_jax.data import digits
  images, labels = digits.load_digits_arrays()
  idx = digits.split_indices()["train"]
  return fit_stats(images[idx], labels[idx])


def caption(digit: int, thickness: int, slant: int, rng: np.random.Generator) -> str:
  """One caption of a digit with the given levels: template, synonyms and numeral or
  word drawn from `rng`."""
  template = TEMPLATES[rng.integers(len(TEMPLATES))]
  number = str(digit) if rng.integers(2) else NUMBER_WORDS[digit]
  t = THICKNESS_WORDS[int(thickness)]
  s = SLANT_PHRASES[int(slant)]
  return template.format(n=number, t=t[rng.integers(len(t))], s=s[rng.integers(len(s))])


def captions_for(images_uint8, labels, seed: int) -> tuple[tuple[tuple[str, ...], ...], np.ndarray]:
  """Captions of digit images uint8 [N, H, W, 1] with labels [N]: (CAPTIONS_PER_IMAGE
  captions of each image, drawn with `seed`; int [N, 3] of each image's (digit,
  thickness level, slant level))."""
  labels = np.asarray(labels)
  thickness, slant = train_stats().levels(images_uint8, labels)
  rng = np.random.default_rng([CAPTION_SEED, seed])
  captions = tuple(tuple(caption(int(d), int(t), int(s), rng) for _ in range(CAPTIONS_PER_IMAGE))
                   for d, t, s in zip(labels, thickness, slant))
  return captions, np.stack([labels, thickness, slant], axis=1)


def attribute_group(attributes) -> np.ndarray:
  """int [N, 3] of (digit, thickness, slant) levels -> one int per combination [N]."""
  a = np.asarray(attributes)
  return a[:, 0] * 9 + (a[:, 1] + 1) * 3 + (a[:, 2] + 1)
