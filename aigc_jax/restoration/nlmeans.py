"""Non-local means (Buades, Coll & Morel, 2005) in JAX: denoising and hole filling.

Non-local means replaces each pixel by an average of the pixels around it, each weighted
by how similar the patch around it is to the patch around the pixel being restored. It
needs no training, so it is the classical baseline for the learned restorers.

`denoise` computes what `skimage.restoration.denoise_nl_means(image, patch_size,
patch_distance, h, sigma=sigma, fast_mode=False, channel_axis=-1)` does (the "classic"
algorithm; skimage's default integral-image fast mode is not implemented), up to float32
rounding (the tests compare to 2e-6), so that it can be checked value for value. For a
pixel p and each candidate q in the
(2 * patch_distance + 1)^2 window around p that lies inside the image (p itself
included):
  * the patches are s x s with s = patch_size, made odd (s + 1 if even), taken from the
    image padded by s // 2 with numpy's "reflect" mode (no repeated edge pixel);
  * d(p, q) = sum over patch offsets u and channels c of
      k(u) * ((I(p + u, c) - I(q + u, c))^2 - 2 sigma^2),
    with the Gaussian kernel k(u) proportional to exp(-|u|^2 / (2 a^2)), a = (s - 1) / 4,
    normalised so that sum_u k(u) = 1 / (C h^2): d is the kernel-weighted mean squared
    difference per channel, less its expected value under noise of std `sigma`, in
    units of h^2;
  * the weight is exp(-max(d, 0)), the largest (exp(0)) for p itself (d <= 0); the
    output is sum_q weight * I(q) / sum_q weight.
Two implementation details of skimage are kept because they change values by far more
than float32 rounding: its distance loop gives a weight of exactly 0 once the partial
sum over the first i patch rows (i = 1 .. s - 1) exceeds 5, and it evaluates the
exponential with Schraudolph's (1999) bit-level approximation (up to ~4% relative error,
giving the centre pixel a weight of 0.971, not 1). `_skimage_exp` reproduces that
approximation (to one unit of its 20-bit mantissa).

`inpaint` fills holes with the same patch comparison restricted to known pixels (and
the true exponential); see its docstring.

h is on the scale of the image ([0, 1]): patches whose (kernel-weighted) root mean
squared difference is h get a weight of exp(-1) relative to identical patches. For
Gaussian noise of std sigma, h of about sigma (or about 0.6 sigma when `sigma` is also
given) is skimage's rule of thumb. The defaults (5 x 5 patches, a 13 x 13 search
window, h = 0.1) suit the 16..64 pixel images of this library; skimage's own defaults
(7, 11) are meant for larger photographs.

Vectorisation. The computation is organised by search offset (di, dj): for one
offset, the squared differences between the padded image and its shifted copy (a
`dynamic_slice`) give, after a kernel-weighted patch sum (s^2 shifted slices), the
distance of every pixel to its candidate at that offset, and the weighted candidates
are accumulated; a `lax.fori_loop` runs over the (2 * patch_distance + 1)^2 offsets.
XLA fuses each iteration into one pass over [H, W] arrays that stay in cache. That was
the fastest choice measured on a 2-core CPU (5 x 5 patches, 13 x 13 window, RGB, best
of 15 runs): 0.8 / 2.2 / 20 ms for 16 / 32 / 64 pixel squares, against 2.0 / 14 / 100
ms for all 169 offsets stacked into one vectorised computation (its [offsets, s, H, W]
intermediates leave the cache, and its memory grows with the window) and 1.3 / 5 / 22
ms for chunks of 13 offsets; skimage's Cython takes 6 / 17 / 110 ms.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

# skimage's cut-off on the partial patch distance (see the module docstring).
_DISTANCE_CUTOFF = 5.0

# Schraudolph's exponential, with skimage's constants (skimage/_shared/fast_exp.h):
# 2^20 / ln 2, and 1023 * 2^20 - 60801 (the offset minimising the RMS error).
_EXP_A = 1512775.3951951856938
_EXP_BC = 1072632447

# In `inpaint`, what an unmatched patch pixel counts as: the largest squared difference
# between two values in [0, 1].
_UNMATCHED_COST = 1.0


def _skimage_exp(y):
  """exp(y) for y <= 0 as skimage's `_fast_exp` approximates it; same dtype as y.

  `_fast_exp` writes int32(EXP_A * y) + EXP_BC into the high 32 bits of a float64
  (sign, 11 exponent bits and the top 20 mantissa bits) and zeros into the low ones.
  Here the value of that float64 is rebuilt from its exponent e and mantissa m as
  (1 + m / 2^20) * 2^(e - 1023), which float32 holds exactly (21 significant bits)
  wherever the result is a normal float32. Below y = -700 the result is 0 (skimage's
  integer conversion overflows there; the true value is below 1e-300 anyway).
  """
  y = jnp.maximum(y, -700.0)
  high = jnp.trunc(_EXP_A * y).astype(jnp.int32) + _EXP_BC
  exponent = jnp.right_shift(high, 20) - 1023
  mantissa = jnp.bitwise_and(high, (1 << 20) - 1).astype(y.dtype)
  return jnp.ldexp(1.0 + mantissa * (2.0 ** -20), exponent).astype(y.dtype)


def _patch_kernel(patch_size: int) -> np.ndarray:
  """skimage's Gaussian patch kernel exp(-|u|^2 / (2 a^2)), a = (s - 1) / 4: [s, s]."""
  offset = patch_size // 2
  a = (patch_size - 1) / 4
  r = np.arange(-offset, offset + 1, dtype=np.float64)
  radius2 = r[:, None] ** 2 + r[None, :] ** 2
  if a == 0:  # A 1 x 1 patch compares single pixels (skimage divides 0 by 0 there).
    return np.ones_like(radius2)
  return np.exp(-radius2 / (2 * a * a))


def _odd(patch_size: int) -> int:
  if patch_size < 1:
    raise ValueError(f"patch_size must be at least 1, got {patch_size}")
  return patch_size + 1 if patch_size % 2 == 0 else patch_size


def _for_each_offset(reach: int, body, init):
  """Folds body(di, dj, carry) -> carry over the offsets of [-reach, reach]^2."""
  side = 2 * reach + 1

  def step(k, carry):
    return body(k // side - reach, k % side - reach, carry)

  return jax.lax.fori_loop(0, side * side, step, init)


def _shift(array, di, dj, size_h, size_w, margin):
  """array[margin + di + y, margin + dj + x] for y < size_h, x < size_w.

  `array` [H', W', ...] is padded by `margin` on both sides so that every offset in
  [-margin, margin] stays in range.
  """
  start = (margin + di, margin + dj) + (0,) * (array.ndim - 2)
  return jax.lax.dynamic_slice(array, start, (size_h, size_w) + array.shape[2:])


def _patch_sums(values, kernel, height, width):
  """Kernel-weighted patch sums, one per patch row: values [H + s - 1, W + s - 1]
  -> [s, H, W], row a holding sum_b kernel[a, b] * values[y + a, x + b]."""
  s = kernel.shape[0]
  return jnp.stack([
      sum(kernel[a, b] * values[a:a + height, b:b + width] for b in range(s))
      for a in range(s)])


def _in_image(di, dj, height, width):
  """[H, W]: whether pixel (y + di, x + dj) lies inside the image."""
  y = jnp.arange(height)[:, None] + di
  x = jnp.arange(width)[None, :] + dj
  return (y >= 0) & (y < height) & (x >= 0) & (x < width)


def _as_hwc(image):
  image = jnp.asarray(image)
  if not jnp.issubdtype(image.dtype, jnp.floating):
    raise TypeError(f"expected a float image in [0, 1], got dtype {image.dtype}")
  if image.ndim == 2:
    return image[..., None], True
  if image.ndim != 3:
    raise ValueError(f"expected an image [H, W] or [H, W, C], got shape {image.shape}")
  return image, False


@functools.partial(jax.jit, static_argnames=("patch_size", "patch_distance"))
def denoise(image, *, patch_size: int = 5, patch_distance: int = 6, h=0.1, sigma=0.0):
  """Non-local means denoising, as skimage's `denoise_nl_means(..., fast_mode=False)`.

  Args:
    image: float [H, W] (grey) or [H, W, C], nominally in [0, 1].
    patch_size: side of the compared patches (an even size is increased by one).
    patch_distance: the search window is (2 * patch_distance + 1)^2, cut to the image.
    h: the cut-off distance on the image's scale (see the module docstring).
    sigma: the noise std, if known; 2 sigma^2 is subtracted from each squared
      difference before weighting (skimage's "more robust" weights).

  Returns:
    The denoised image, same shape and dtype.
  """
  image, grey = _as_hwc(image)
  dtype = image.dtype
  height, width, channels = image.shape
  s = _odd(patch_size)
  offset, reach = s // 2, patch_distance
  kernel = _patch_kernel(s).astype(dtype)
  kernel = jnp.asarray(kernel) / (channels * float(kernel.sum()) * h * h)
  noise = jnp.asarray(2 * channels * sigma * sigma, dtype)  # Summed over channels.

  padded = jnp.pad(image, ((offset, offset), (offset, offset), (0, 0)), mode="reflect")
  # Candidates outside the image are never used; the zeros only keep the slices in range.
  far = jnp.pad(padded, ((reach, reach), (reach, reach), (0, 0)))
  size_h, size_w = height + 2 * offset, width + 2 * offset

  def accumulate(di, dj, carry):
    total, weights = carry
    moved = _shift(far, di, dj, size_h, size_w, reach)  # Patches around p + (di, dj).
    squares = jnp.sum(jnp.square(padded - moved), axis=-1) - noise
    rows = jnp.cumsum(_patch_sums(squares, kernel, height, width), axis=0)
    cut = jnp.any(rows[:-1] > _DISTANCE_CUTOFF, axis=0)
    weight = jnp.where(cut, 0.0, _skimage_exp(-jnp.maximum(rows[-1], 0.0)))
    weight = jnp.where(_in_image(di, dj, height, width), weight, 0.0)
    candidate = moved[offset:offset + height, offset:offset + width]
    return total + weight[..., None] * candidate, weights + weight

  total, weights = _for_each_offset(
      reach, accumulate, (jnp.zeros_like(image), jnp.zeros((height, width), dtype)))
  out = total / weights[..., None]  # > 0: the centre pixel always has a weight.
  return out[..., 0] if grey else out


def denoise_batch(images, **kwargs):
  """`denoise` over a batch [B, H, W(, C)] -> same shape; keywords as for `denoise`."""
  return jax.vmap(functools.partial(denoise, **kwargs))(images)


def _fill_estimates(image, known, kernel, reach, h):
  """One non-local means pass over the known pixels: (estimate [H, W, C], found [H, W]).

  For every pixel p, the candidates are the known pixels q of its search window (inside
  the image). The patches are compared where both are known: over the patch offsets u
  with p + u and q + u both known, the kernel-weighted mean squared difference per
  channel d_pairs, normalised by the kernel weight of those pairs; a candidate with no
  such pair is not used. A candidate whose patch misses some of p's known pixels is
  compared on less evidence, and in small images a chance match on a few pixels would
  count as much as a match on the whole patch; so the final distance counts the
  unmatched share of p's known patch at `_UNMATCHED_COST`, the largest squared
  difference on [0, 1]:
    d = overlap * d_pairs + (1 - overlap) * _UNMATCHED_COST,
  overlap = (kernel weight of the pairs) / (kernel weight of p's known pixels). It
  equals d_pairs for candidates whose patch covers p's known pixels.

  The weights are exp(-(d - d_min) / h^2): subtracting the smallest distance d_min
  leaves the weighted average unchanged but keeps the best candidate's weight at 1,
  where a plain exp(-d / h^2) would underflow to 0 for every candidate of a poorly
  matching patch. d_min is tracked over the offsets as in a streaming softmax. `found`
  is False where no candidate was usable.

  Pixels outside the image count as unknown. (`denoise` pads by reflection instead;
  here that would offer the mirrored border as candidates, which match falsely
  wherever the image is not symmetric about its border.)
  """
  height, width, channels = image.shape
  s = kernel.shape[0]
  offset = s // 2
  pads = ((offset, offset), (offset, offset))
  padded = jnp.pad(jnp.where(known[..., None], image, 0.0), pads + ((0, 0),))
  known_padded = jnp.pad(known, pads)
  far = jnp.pad(padded, ((reach, reach), (reach, reach), (0, 0)))
  known_far = jnp.pad(known_padded, reach)
  size_h, size_w = height + 2 * offset, width + 2 * offset
  scale = 1.0 / (h * h)
  known_mass = jnp.sum(_patch_sums(known_padded.astype(image.dtype), kernel, height, width),
                       axis=0)
  known_mass = jnp.where(known_mass > 0, known_mass, 1.0)

  def accumulate(di, dj, carry):
    total, weights, best = carry
    moved = _shift(far, di, dj, size_h, size_w, reach)
    moved_known = _shift(known_far, di, dj, size_h, size_w, reach)
    pairs = (known_padded & moved_known).astype(image.dtype)
    squares = pairs * jnp.sum(jnp.square(padded - moved), axis=-1) / channels
    mismatch = jnp.sum(_patch_sums(squares, kernel, height, width), axis=0)
    mass = jnp.sum(_patch_sums(pairs, kernel, height, width), axis=0)
    usable = (moved_known[offset:offset + height, offset:offset + width] & (mass > 0)
              & _in_image(di, dj, height, width))
    # overlap * d_pairs + (1 - overlap) * cost, with overlap = mass / known_mass.
    distance = (mismatch + _UNMATCHED_COST * (known_mass - mass)) / known_mass
    distance = jnp.where(usable, distance, jnp.inf)
    new_best = jnp.minimum(best, distance)
    # Rescale the sums so far to the new reference distance (they are 0 while best is
    # still inf, and inf - inf would be nan).
    rescale = jnp.where(jnp.isfinite(best), jnp.exp((new_best - best) * scale), 0.0)
    weight = jnp.where(usable, jnp.exp((new_best - distance) * scale), 0.0)
    candidate = moved[offset:offset + height, offset:offset + width]
    total = total * rescale[..., None] + weight[..., None] * candidate
    return total, weights * rescale + weight, new_best

  init = (jnp.zeros_like(image), jnp.zeros((height, width), image.dtype),
          jnp.full((height, width), jnp.inf, image.dtype))
  total, weights, _ = _for_each_offset(reach, accumulate, init)
  found = weights > 0
  return total / jnp.where(found, weights, 1.0)[..., None], found


def _neighbour_sum(x):
  """Sum over each pixel's 3 x 3 neighbourhood (zero outside): x [H, W, ...]."""
  height, width = x.shape[:2]
  padded = jnp.pad(x, ((1, 1), (1, 1)) + ((0, 0),) * (x.ndim - 2))
  return sum(padded[a:a + height, b:b + width] for a in range(3) for b in range(3))


@functools.partial(jax.jit,
                   static_argnames=("patch_size", "patch_distance", "max_iterations"))
def inpaint(image, mask, *, patch_size: int = 5, patch_distance: int = 6, h=0.1,
            max_iterations: int | None = None):
  """Fills the holes of `image` with non-local means over its known pixels.

  The holes are filled from their boundary inwards (onion peel). Each iteration fills
  the current boundary layer, the missing pixels with a known pixel among their 8
  neighbours, and marks them known: each becomes the weighted average of the known
  pixels in its search window, weighted by patch similarity computed over known pixels
  only, a patch missing some of the target's known pixels being penalised (see
  `_fill_estimates`; the Gaussian patch kernel is `denoise`'s). Filling one
  layer at a time, rather than every pixel that some known patch reaches, gives each
  filled pixel the most known context to be matched on. A boundary pixel with no
  usable candidate (e.g. next to a lone known pixel) takes the mean of its known
  neighbours, so every iteration makes progress.

  Args:
    image: float [H, W] or [H, W, C] in [0, 1]; values under the mask are ignored (they
      may be anything finite or not).
    mask: bool [H, W], True where a pixel is missing.
    patch_size, patch_distance: as for `denoise`.
    h: the weight scale on [0, 1]: a candidate whose patch distance (a mean squared
      difference per value) exceeds the best candidate's by h^2 gets exp(-1) times its
      weight. Small h copies the best match; large h averages the window. 0.1 suits
      clean images; raise it to about the noise std for noisy ones.
    max_iterations: the most layers to fill (default: until none is missing, at most
      H + W). Pixels still missing then, or all pixels when none is known, take the
      mean colour of the known pixels (0.5 when none is known).

  Returns:
    The filled image, same shape and dtype; known pixels exactly as given.
  """
  image, grey = _as_hwc(image)
  mask = jnp.asarray(mask, bool)
  height, width, _ = image.shape
  kernel = jnp.asarray(_patch_kernel(_odd(patch_size)), image.dtype)
  bound = height + width if max_iterations is None else max_iterations

  def cond(state):
    _, known, step, progress = state
    return progress & ~jnp.all(known) & (step < bound)

  def body(state):
    filled, known, step, _ = state
    estimate, found = _fill_estimates(filled, known, kernel, patch_distance, h)
    near = _neighbour_sum(known.astype(image.dtype))
    layer = ~known & (near > 0)
    neighbours = _neighbour_sum(jnp.where(known[..., None], filled, 0.0))
    fallback = neighbours / jnp.maximum(near, 1.0)[..., None]
    value = jnp.where(found[..., None], estimate, fallback)
    filled = jnp.where(layer[..., None], value, filled)
    return filled, known | layer, step + 1, jnp.any(layer)

  known = ~mask
  start = jnp.where(known[..., None], image, 0.0)
  filled, known, _, _ = jax.lax.while_loop(
      cond, body, (start, known, jnp.asarray(0), jnp.asarray(True)))
  count = jnp.sum(~mask)
  mean = jnp.where(count > 0, jnp.sum(start, axis=(0, 1)) / jnp.maximum(count, 1), 0.5)
  filled = jnp.where(known[..., None], filled, mean.astype(image.dtype))
  out = jnp.where(mask[..., None], filled, image)
  return out[..., 0] if grey else out


def inpaint_batch(images, masks, **kwargs):
  """`inpaint` over a batch: images [B, H, W(, C)], masks [B, H, W] -> images' shape."""
  return jax.vmap(functools.partial(inpaint, **kwargs))(images, masks)
