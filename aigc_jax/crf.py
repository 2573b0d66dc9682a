"""A differentiable Gaussian CRF that refines an image given a guide image.

Given an output u = G(x) (float [N, H, W, C]) and a guide x (float [N, H, W, Cg] in the
model range [-1, 1]: the input image for translation and restoration, the label map for
labels to photo), the refined image is the minimiser of

  E(y) = ||y - u||^2 + lam * sum_i sum_{j in window(i)} w_ij ||y_i - y_j||^2,
  w_ij = exp(-|p_i - p_j|^2 / (2 theta_a^2) - |x_i - x_j|^2 / (2 theta_b^2)),

where window(i) is the k x k window centred on pixel i (neighbours outside the image are
left out), p are pixel positions in pixels and |x_i - x_j| is the Euclidean distance of
the guide's channel vectors. Each ordered pair (i, j) is counted, so with L = D - W the
weighted graph Laplacian (per channel, the channels are independent and share W) the
energy is ||y - u||^2 + 2 lam y^T L y and its exact minimiser solves

  (I + 2 lam L) y = u.

The weights are large between nearby pixels of similar guide colour and small across the
guide's edges, so the refinement smooths the output inside regions of the condition and
keeps (or sharpens) its edges where the condition has edges.

Solver: K unrolled conjugate-gradient steps, started at y_0 = u. Why CG and not Jacobi:
- A = I + 2 lam L is symmetric positive definite with eigenvalues in [1, 1 + 4 lam d_max]
  (d_max the largest weighted degree, at most k^2 - 1). CG reduces the error by a factor
  of about (sqrt(kappa) - 1) / (sqrt(kappa) + 1) per step, Jacobi by about
  1 - 1 / kappa, so for lam of order 1 a handful of CG steps does what Jacobi needs tens
  of steps for, at the same cost per step (one product with A) plus two inner products.
- CG minimises E over a growing affine Krylov subspace, so E(y_k) never increases (in
  exact arithmetic; up to round-off in floating point). Plain Jacobi is not monotone in
  E for this system (only damped Jacobi is, with a damping that depends on d_max); CG
  needs no step size.
- Because every eigenvalue of A is at least 1, the error after any step is bounded by
  the residual: ||y_k - y*|| <= ||u - A y_k||.
The steps are a `lax.scan` with a fixed count, so reverse-mode gradients flow through
them (with respect to u, the guide, lam, theta_a and theta_b); the gradients are those of
the K-step output, which is what a network with this layer computes. A system whose
residual has fallen below round-off (relative to its first residual) stops moving:
further steps would divide round-off by round-off, and their gradients could overflow.
With lam = 0 the first residual is exactly zero and the output is exactly u.

The exact minimiser is a weighted average of u (A^-1 is non-negative with rows summing to
1), so it stays in [-1, 1] when u does; the K-step output may overshoot by the remaining
error. `gaussian_crf` computes in float32 (float64 if given float64 inputs, as in tests).

Entry points: `gaussian_crf` (the contract), `CRFLayer` (a Flax module with learnable,
positive lam, theta_a, theta_b, for the last layer of a generator), `refine` (fixed
parameters, after the fact, jitted), `CRFOptions` (the layer's options), `CRFBlock` (the
parsed `model.crf` config block: `enabled` and those options), and
`near_guide_edges` (where to measure the CRF's effect).
"""

import dataclasses
import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from aigc_jax.errors import UserError

DEFAULT_ITERATIONS = 10


def _check_window(window: int) -> int:
  if not isinstance(window, (int, np.integer)) or window < 1 or window % 2 == 0:
    raise UserError(f"crf window {window!r} must be an odd number of pixels (3, 5, 7...)")
  return int(window)


def _compute_dtype(*arrays):
  dtype = jnp.result_type(*arrays)
  return jnp.float64 if dtype == jnp.float64 else jnp.float32


def _offsets(window: int):
  """The (dy, dx) of the k x k window in row-major order, the centre included."""
  r = window // 2
  return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]


def _pad(x, r: int):
  return jnp.pad(x, ((0, 0), (r, r), (r, r), (0, 0)))


def _shift(padded, dy: int, dx: int, r: int):
  """`_pad(x, r)` [N, H + 2r, W + 2r, C] -> s [N, H, W, C] with s[:, i, j] = x[:, i + dy,
  j + dx], zero outside the image."""
  h, w = padded.shape[1] - 2 * r, padded.shape[2] - 2 * r
  return padded[:, r + dy:r + dy + h, r + dx:r + dx + w]


def _neighbour_weights(guide, theta_a, theta_b, window: int):
  """[((dy, dx), w [N, H, W, 1])] for the k * k - 1 neighbours of the window (no centre).

  Separate arrays rather than one [..., k * k] array, so that the solver's gradient with
  respect to each weight is its own array, not a slice written into a stacked one.
  """
  window = _check_window(window)
  dtype = _compute_dtype(guide, theta_a, theta_b)
  guide = jnp.asarray(guide, dtype)
  _, h, w, _ = guide.shape
  r = window // 2
  inside = _pad(jnp.ones((1, h, w, 1), dtype), r)
  padded = _pad(guide, r)
  out = []
  for dy, dx in _offsets(window):
    if dy == 0 and dx == 0:
      continue
    shifted = _shift(padded, dy, dx, r)
    # Summed channel by channel: XLA:CPU reduces a short minor axis slowly.
    colour = sum((guide[..., c:c + 1] - shifted[..., c:c + 1]) ** 2 for c in range(guide.shape[-1]))
    logw = -(dy * dy + dx * dx) / (2.0 * theta_a ** 2) - colour / (2.0 * theta_b ** 2)
    out.append(((dy, dx), jnp.exp(logw) * _shift(inside, dy, dx, r)))
  return out


def _stack(neighbours, window: int):
  by_offset = dict(neighbours)
  zeros = jnp.zeros_like(neighbours[0][1]) if neighbours else None
  return jnp.concatenate([by_offset.get(o, zeros) for o in _offsets(window)], axis=-1)


def _unstack(weights, window: int):
  weights = jnp.asarray(weights)
  return [(o, weights[..., i:i + 1]) for i, o in enumerate(_offsets(window)) if o != (0, 0)]


def pairwise_weights(guide, *, theta_a, theta_b, window: int = 5):
  """The CRF's pairwise weights from the guide image.

  Args:
    guide: float [N, H, W, Cg], the conditioning image in [-1, 1].
    theta_a: the spatial bandwidth in pixels (> 0), a scalar (traced or not).
    theta_b: the guide-colour bandwidth in guide units (> 0), a scalar.
    window: the odd side k of the window centred on each pixel.

  Returns:
    float [N, H, W, k * k]: entry [n, i, j, a * k + b] is w between pixel (i, j) and its
    neighbour (i + a - k // 2, j + b - k // 2); the centre entry and neighbours outside
    the image are 0.
  """
  window = _check_window(window)
  if window == 1:
    guide = jnp.asarray(guide)
    return jnp.zeros(guide.shape[:3] + (1,), _compute_dtype(guide, theta_a, theta_b))
  return _stack(_neighbour_weights(guide, theta_a, theta_b, window), window)


def _laplacian(y, neighbours, degree, r: int):
  padded = _pad(y, r)
  total = 0.0
  for (dy, dx), w in neighbours:
    total = total + w * _shift(padded, dy, dx, r)
  return degree * y - total


def _degree(neighbours, like):
  return sum((w for _, w in neighbours), jnp.zeros_like(like[..., :1]))


def laplacian_apply(y, weights, window: int):
  """L y for the weighted graph Laplacian: (L y)_i = sum_j w_ij (y_i - y_j).

  y float [N, H, W, C], weights [N, H, W, k * k] from `pairwise_weights` -> [N, H, W, C].
  """
  neighbours = _unstack(weights, window)
  return _laplacian(y, neighbours, _degree(neighbours, y), window // 2)


def energy(y, u, weights, lam, window: int):
  """E(y) per image, float [N]: ||y - u||^2 + lam * sum_i sum_j w_ij ||y_i - y_j||^2,
  written out pair by pair (each ordered pair counted), as the module docstring defines it."""
  r = window // 2
  padded = _pad(y, r)
  pairs = 0.0
  for o, (dy, dx) in enumerate(_offsets(window)):
    if dy == 0 and dx == 0:
      continue
    diff = jnp.sum((y - _shift(padded, dy, dx, r)) ** 2, axis=-1)
    pairs = pairs + weights[..., o] * diff
  return jnp.sum((y - u) ** 2, axis=(1, 2, 3)) + lam * jnp.sum(pairs, axis=(1, 2))


def _inner(a, b):
  """Per (image, channel) inner products: [N, H, W, C] x 2 -> [N, 1, 1, C]."""
  return jnp.sum(a * b, axis=(1, 2), keepdims=True)


def cg_iterates(u, weights, lam, *, iterations: int, window: int = 5):
  """The CG iterates y_0 = u, y_1, ..., y_K for (I + 2 lam L) y = u, float [K + 1, N, H, W, C].

  Each (image, channel) is its own system (they share L but not u), solved with its own
  step sizes. A system whose squared residual is below (10 eps)^2 times its first one
  (eps the dtype's machine epsilon) stops moving.
  """
  last, path = _cg(u, _unstack(weights, window), lam, iterations, window, keep_path=True)
  return jnp.concatenate([jnp.asarray(u, last.dtype)[None], path], axis=0)


def _cg(u, neighbours, lam, iterations: int, window: int, keep_path: bool):
  """(y_K, [y_1 .. y_K] if keep_path else None): K conjugate-gradient steps from y_0 = u,
  with the weights as `_neighbour_weights` gives them."""
  dtype = _compute_dtype(u, lam, *(w for _, w in neighbours))
  u, lam = jnp.asarray(u, dtype), jnp.asarray(lam, dtype)
  # The weights and degrees are repeated over the channels here, once, by concatenation:
  # broadcast inside the loop, their gradient would be a reduction over the short minor
  # channel axis per neighbour and step, which XLA:CPU runs slowly; a concatenation's
  # gradient only adds the channels' slices.
  channels = u.shape[-1]
  repeat = lambda w: jnp.concatenate([jnp.asarray(w, dtype)] * channels, axis=-1)
  degree = repeat(_degree([(o, jnp.asarray(w, dtype)) for o, w in neighbours], u))
  neighbours = [(o, repeat(w)) for o, w in neighbours]
  apply = lambda v: v + 2.0 * lam * _laplacian(v, neighbours, degree, window // 2)
  r0 = u - apply(u)
  rr0 = _inner(r0, r0)
  floor = (10.0 * jnp.finfo(dtype).eps) ** 2 * rr0

  def step(carry, _):
    y, r, p, rr = carry
    active = rr > floor  # False for lam = 0 (rr0 = 0) and for converged systems.
    ap = apply(p)
    pap = _inner(p, ap)
    alpha = jnp.where(active, rr / jnp.where(active, pap, 1.0), 0.0)
    y = y + alpha * p
    r = r - alpha * ap
    rr_new = _inner(r, r)
    beta = jnp.where(active, rr_new / jnp.where(active, rr, 1.0), 0.0)
    p = r + beta * p
    return (y, r, p, jnp.where(active, rr_new, rr)), (y if keep_path else None)

  (y, *_), path = jax.lax.scan(step, (u, r0, r0, rr0), None, length=iterations)
  return y, path


def gaussian_crf(y, guide, *, lam, theta_a, theta_b, window: int = 5, iterations: int = DEFAULT_ITERATIONS):
  """Refines `y` with the Gaussian CRF guided by `guide` (see the module docstring).

  Args:
    y: float [N, H, W, C], the output to refine (u in the energy), e.g. in [-1, 1].
    guide: float [N, H, W, Cg] in [-1, 1], the conditioning image, same N, H, W.
    lam: the pairwise strength (>= 0; 0 returns y unchanged).
    theta_a: the spatial bandwidth in pixels (> 0).
    theta_b: the guide-colour bandwidth in guide units (> 0).
    window: the odd side k of the square window centred on each pixel.
    iterations: K, the number of unrolled conjugate-gradient steps.

  Returns:
    float [N, H, W, C] (float32, or float64 for float64 inputs): the K-th CG iterate,
    which approaches argmin E as K grows. Differentiable with respect to y, guide, lam,
    theta_a and theta_b. Any H and W (at least 1).
  """
  y = jnp.asarray(y)
  guide = jnp.asarray(guide)
  if y.ndim != 4 or guide.ndim != 4 or y.shape[:3] != guide.shape[:3]:
    raise ValueError(f"y {y.shape} and guide {guide.shape} must be [N, H, W, C] with the same N, H, W")
  neighbours = _neighbour_weights(guide, theta_a, theta_b, window)
  return _cg(y, neighbours, lam, iterations, window, keep_path=False)[0]


# ------------------------------------------------------------------------ options

@dataclasses.dataclass(frozen=True)
class CRFOptions:
  """The `model.crf` config block, checked once.

  lam, theta_a, theta_b: the parameters (fixed ones for `refine`; the starting values
  of the learnable ones in `CRFLayer`). window: odd k. iterations: K CG steps.
  learnable: whether `CRFLayer` trains lam, theta_a, theta_b (else they stay fixed).
  """
  lam: float = 1.0
  theta_a: float = 2.0
  theta_b: float = 0.3
  window: int = 5
  iterations: int = DEFAULT_ITERATIONS
  learnable: bool = True

  def __post_init__(self):
    _check_window(self.window)
    for name in ("theta_a", "theta_b"):
      if not getattr(self, name) > 0:
        raise UserError(f"crf.{name} must be > 0, got {getattr(self, name)!r}")
    if not self.lam >= 0:
      raise UserError(f"crf.lam must be >= 0, got {self.lam!r}")
    if self.learnable and not self.lam > 0:
      raise UserError("crf.lam must be > 0 when learnable (it is kept positive); use learnable=False for 0")
    if not (isinstance(self.iterations, (int, np.integer)) and self.iterations >= 0):
      raise UserError(f"crf.iterations must be a whole number >= 0, got {self.iterations!r}")

  @classmethod
  def from_config(cls, block) -> "CRFOptions":
    """From a dict or ConfigDict with any of the fields; unknown keys are a UserError."""
    values = dict(block.items()) if hasattr(block, "items") else dict(block)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
      raise UserError(f"unknown crf key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(names))}")
    return cls(**values)


@dataclasses.dataclass(frozen=True)
class CRFBlock:
  """The `model.crf` config block of a generator that can end in a CRF (pix2pix's U-Net,
  the restoration network), parsed by `aigc_jax.options.parse`: `enabled` says whether
  the generator ends in a `CRFLayer`; the other keys are `CRFOptions`' (the learnable
  parameters' starting values)."""
  enabled: bool
  lam: float
  theta_a: float
  theta_b: float
  window: int
  iterations: int
  learnable: bool

  def options(self) -> CRFOptions | None:
    """The layer's options, or None when the generator has no CRF."""
    if not self.enabled:
      return None
    return CRFOptions(lam=self.lam, theta_a=self.theta_a, theta_b=self.theta_b, window=self.window,
                      iterations=self.iterations, learnable=self.learnable)

  def check(self):
    self.options()  # CRFOptions checks its values.


# ------------------------------------------------------------------------ Flax layer

def _inverse_softplus(x: float) -> float:
  return x + math.log(-math.expm1(-x))


class CRFLayer(nn.Module):
  """`gaussian_crf` as a layer: (y [N, H, W, C], guide [N, H, W, Cg]) -> [N, H, W, C] float32.

  With `options.learnable`, lam, theta_a and theta_b are parameters kept positive as the
  softplus of raw parameters `raw_lam`, `raw_theta_a`, `raw_theta_b` (scalars), started
  at the options' values; `positive_parameters(params)` reads them back. Otherwise they
  are the options' constants and the layer has no parameters.
  """
  options: CRFOptions = CRFOptions()

  @nn.compact
  def __call__(self, y, guide):
    o = self.options
    if o.learnable:
      value = lambda name, init: jax.nn.softplus(
          self.param(f"raw_{name}", nn.initializers.constant(_inverse_softplus(init)), (), jnp.float32))
      lam, theta_a, theta_b = value("lam", o.lam), value("theta_a", o.theta_a), value("theta_b", o.theta_b)
    else:
      lam, theta_a, theta_b = o.lam, o.theta_a, o.theta_b
    return gaussian_crf(y.astype(jnp.float32), guide.astype(jnp.float32), lam=lam, theta_a=theta_a,
                        theta_b=theta_b, window=o.window, iterations=o.iterations)


def positive_parameters(layer_params) -> dict:
  """A `CRFLayer`'s parameters {"raw_lam", ...} -> {"lam", "theta_a", "theta_b"} as floats
  (for logging and for `refine` with the trained values)."""
  return {name: float(jax.nn.softplus(layer_params[f"raw_{name}"])) for name in ("lam", "theta_a", "theta_b")}


# ------------------------------------------------------------------------ after the fact

@functools.partial(jax.jit, static_argnames=("window", "iterations"))
def _refine(y, guide, lam, theta_a, theta_b, window, iterations):
  return gaussian_crf(y, guide, lam=lam, theta_a=theta_a, theta_b=theta_b, window=window, iterations=iterations)


def refine(y, guide, options: CRFOptions = CRFOptions()) -> Any:
  """Fixed-parameter refinement of any output given its guide (`--crf` on translate,
  inpaint, denoise), jitted.

  y float [N, H, W, C] in [-1, 1]; guide float [N, H, W, Cg] in [-1, 1] with the same
  N, H, W (e.g. the input image). Returns float32 [N, H, W, C], clipped to [-1, 1] (the
  exact minimiser lies there; the clip only removes the K-step overshoot).
  """
  if np.shape(y)[:3] != np.shape(guide)[:3]:
    raise UserError(f"the crf guide {np.shape(guide)} must have the output's size {np.shape(y)}")
  out = _refine(jnp.asarray(y, jnp.float32), jnp.asarray(guide, jnp.float32), options.lam, options.theta_a,
                options.theta_b, options.window, options.iterations)
  return jnp.clip(out, -1.0, 1.0)


def refine_image(output, guide, options: CRFOptions) -> np.ndarray:
  """`refine` at the library's edges: uint8 output [H, W, C] and its uint8 guide
  [H, W, Cg] (e.g. the input image) of the same size -> the refined uint8 [H, W, C]."""
  to_model = lambda a: np.asarray(a, np.float32)[None] / 127.5 - 1.0
  out = np.asarray(refine(to_model(output), to_model(guide), options))[0]
  return np.clip(np.round((out + 1.0) * 127.5), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------ measurement

def near_guide_edges(guide, *, radius: int = 2, threshold: float = 0.25) -> np.ndarray:
  """bool [N, H, W]: the pixels within `radius` (Chebyshev distance) of an edge of the
  guide, where the CRF's pairwise weights change most and its effect is to be measured
  (PSNR, SSIM restricted to these pixels against the whole image).

  guide: float [N, H, W, Cg] in [-1, 1]. A pixel is an edge where the Sobel gradient
  magnitude of any guide channel (borders replicated) exceeds `threshold` times that of
  a full -1 -> 1 step.
  """
  g = np.asarray(guide, np.float64)
  x = np.pad(g, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
  gx = (x[:, :-2, 2:] + 2 * x[:, 1:-1, 2:] + x[:, 2:, 2:]) - (x[:, :-2, :-2] + 2 * x[:, 1:-1, :-2] + x[:, 2:, :-2])
  gy = (x[:, 2:, :-2] + 2 * x[:, 2:, 1:-1] + x[:, 2:, 2:]) - (x[:, :-2, :-2] + 2 * x[:, :-2, 1:-1] + x[:, :-2, 2:])
  edges = (np.hypot(gx, gy) > threshold * 4 * 2.0).any(axis=-1)
  padded = np.pad(edges, ((0, 0), (radius, radius), (radius, radius)))
  h, w = edges.shape[1:]
  near = np.zeros_like(edges)
  for dy in range(2 * radius + 1):
    for dx in range(2 * radius + 1):
      near |= padded[:, dy:dy + h, dx:dx + w]
  return near
