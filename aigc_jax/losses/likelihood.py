"""VAE objectives as functions over arrays: pixel likelihoods, the Gaussian KL, ELBO, IWAE.

Every function returns per-example values (summed over pixels or latent dimensions,
never over the batch), in nats, so callers may average, sum or weight as they need.

Pixel models. Images inside models are float32 in [-1, 1]: uint8 value v is
x = v / 127.5 - 1, so the 256 stored values sit on a grid of spacing 2 / 255. The
likelihoods that score such images are *discrete*: each one gives the probability of the
stored 8-bit value, so `-log p` is a true negative log-likelihood of the data in nats
(and `nats / (num_pixels * log 2)` is bits per dimension), comparable across models.

- `bernoulli`: binary data. The decoder gives one logit per subpixel; targets are 0/1.
- `discretized_logistic`: the 256-bin logistic of PixelCNN++ (Salimans et al., 2017) and
  IAF (Kingma et al., 2016): the mass of a logistic(mean, scale) on the bin around each
  value, with the two end bins taking the tails (-inf, -1 + 1/255] and [1 - 1/255, inf).
- `discretized_gaussian`: the same construction with a normal distribution, so a
  "Gaussian" decoder also reports discrete nats; with a fixed scale it trains like a
  squared error.

A `Likelihood` bundles what the trainer needs for one pixel model; `get_likelihood`
picks one by name from `LIKELIHOODS`.
"""

import dataclasses
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr

from aigc_jax.options import one_of, require

_LOG_2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------- latents

def gaussian_kl(mean, logvar, prior_mean=0.0, prior_logvar=0.0):
  """KL( N(mean, exp(logvar)) || N(prior_mean, exp(prior_logvar)) ), diagonal.

  Args:
    mean, logvar: float [..., D], the posterior's mean and log-variance.
    prior_mean, prior_logvar: broadcastable to [..., D]; the default is N(0, I).
  Returns:
    float [...]: the KL in nats, summed over the last (latent) axis.
  """
  var_ratio = jnp.exp(logvar - prior_logvar)
  mahalanobis = jnp.square(mean - prior_mean) * jnp.exp(-prior_logvar)
  return 0.5 * jnp.sum(var_ratio + mahalanobis - 1.0 - (logvar - prior_logvar), axis=-1)


def gaussian_log_density(z, mean=0.0, logvar=0.0):
  """log N(z; mean, exp(logvar)) of a diagonal Gaussian: float [..., D] -> [...] nats."""
  return -0.5 * jnp.sum(_LOG_2PI + logvar + jnp.square(z - mean) * jnp.exp(-logvar), axis=-1)


def reparameterize(eps, mean, logvar):
  """z = mean + exp(logvar / 2) * eps: a posterior sample that gradients flow through."""
  return mean + jnp.exp(0.5 * logvar) * eps


# ------------------------------------------------------------------------ pixel models

def bernoulli_log_likelihood(logits, targets):
  """log Bernoulli(targets; sigmoid(logits)), summed over all but the first axis.

  Args:
    logits: float [B, ...], one logit per subpixel.
    targets: float or bool [B, ...] of 0/1.
  Returns:
    float [B] in nats.
  """
  targets = targets.astype(logits.dtype)
  # log sigmoid(l) for a 1 and log sigmoid(-l) for a 0, without forming sigmoid(l).
  log_p = targets * jax.nn.log_sigmoid(logits) + (1.0 - targets) * jax.nn.log_sigmoid(-logits)
  return _sum_per_example(log_p)


def _log_sigmoid_difference(upper, lower):
  """log(sigmoid(upper) - sigmoid(lower)) for upper > lower, without cancellation.

  sigmoid(a) - sigmoid(b) = sigmoid(a) * sigmoid(-b) * (1 - exp(b - a)), every factor of
  which has a stable logarithm, so narrow bins far in a tail keep full precision.
  """
  return (jax.nn.log_sigmoid(upper) + jax.nn.log_sigmoid(-lower)
          + jnp.log(-jnp.expm1(lower - upper)))


def _log_ndtr_difference(upper, lower):
  """log(Phi(upper) - Phi(lower)) for upper > lower, computed in the lower tail.

  Where the bin lies right of zero, the identity Phi(a) - Phi(b) = Phi(-b) - Phi(-a)
  moves it to the left, where log_ndtr has full relative precision.
  """
  flip = (upper + lower) > 0
  hi = jnp.where(flip, -lower, upper)
  lo = jnp.where(flip, -upper, lower)
  log_hi = log_ndtr(hi)
  return log_hi + jnp.log(-jnp.expm1(log_ndtr(lo) - log_hi))


def _discretized_log_likelihood(x, mean, log_scale, num_bins, log_cdf, log_survival, log_bin_mass):
  """Shared 256-bin construction: end bins take the tails, inner bins their mass."""
  half_bin = 1.0 / (num_bins - 1)  # Half the spacing 2 / (num_bins - 1) of the grid.
  inv_scale = jnp.exp(-log_scale)
  upper = (x - mean + half_bin) * inv_scale
  lower = (x - mean - half_bin) * inv_scale
  lowest, highest = x < -1.0 + half_bin, x > 1.0 - half_bin
  inner = log_bin_mass(upper, lower)  # Finite everywhere (upper > lower), so where() is safe.
  log_p = jnp.where(lowest, log_cdf(upper), jnp.where(highest, log_survival(lower), inner))
  return _sum_per_example(log_p)


def discretized_logistic_log_likelihood(x, mean, log_scale, num_bins: int = 256):
  """log P(x) of a per-subpixel logistic(mean, exp(log_scale)) discretized to `num_bins`.

  Args:
    x: float [B, ...] in [-1, 1] on the grid of `num_bins` values (uint8 / 127.5 - 1).
    mean, log_scale: float, broadcastable to x; the logistic's location and log-scale.
    num_bins: the number of values a subpixel can take (256 for 8-bit images).
  Returns:
    float [B]: log-probability of the stored values in nats.
  """
  return _discretized_log_likelihood(
      x, mean, log_scale, num_bins, log_cdf=jax.nn.log_sigmoid,
      log_survival=lambda t: jax.nn.log_sigmoid(-t), log_bin_mass=_log_sigmoid_difference)


def discretized_gaussian_log_likelihood(x, mean, log_scale, num_bins: int = 256):
  """As `discretized_logistic_log_likelihood`, with a normal N(mean, exp(log_scale)^2)."""
  return _discretized_log_likelihood(
      x, mean, log_scale, num_bins, log_cdf=log_ndtr, log_survival=lambda t: log_ndtr(-t),
      log_bin_mass=_log_ndtr_difference)


def _sum_per_example(values):
  return jnp.sum(values.reshape(values.shape[0], -1), axis=-1)


# --------------------------------------------------------------------------- bounds

def negative_elbo(log_likelihood, kl, beta: float = 1.0):
  """-(log p(x|z) - beta * KL): per-example [B] nats (beta = 1 gives the true bound)."""
  return -log_likelihood + beta * kl


def iwae_log_likelihood(log_weights):
  """The importance-weighted bound log (1/K) sum_k w_k (Burda et al., 2016).

  Args:
    log_weights: float [K, B]: log p(x, z_k) - log q(z_k | x) for K posterior samples
      z_k of each of B examples.
  Returns:
    float [B]: a lower bound on log p(x) that is never below the mean of the log weights
    (the K-sample ELBO estimate) and tightens as K grows.
  """
  k = log_weights.shape[0]
  return jax.nn.logsumexp(log_weights, axis=0) - jnp.log(float(k))


# ------------------------------------------------------------------------ the registry

class Likelihood(NamedTuple):
  """One pixel model: what the decoder outputs and how it is scored and shown.

  The decoder emits `num_params` values per subpixel, [B, H, W, C, num_params].
  """
  num_params: int
  # x float [B, H, W, C] in [-1, 1] -> (encoder input in [-1, 1], targets for log_prob).
  prepare: Callable
  # (params [B, H, W, C, P], targets) -> log p(targets | params), float [B] nats.
  log_prob: Callable
  # params -> the distribution's mean as an image, float [B, H, W, C] in [-1, 1].
  mean_image: Callable


def _identity_prepare(x):
  return x, x


def _binarize(threshold: int):
  """Bernoulli data: stored values >= `threshold` are 1; the encoder sees +-1."""
  cut = (threshold - 0.5) / 127.5 - 1.0  # Halfway between threshold - 1 and threshold.

  def prepare(x):
    bits = (x > cut).astype(x.dtype)
    return 2.0 * bits - 1.0, bits
  return prepare


def _scale_of(params, fixed_log_scale, min_log_scale):
  """The log-scale: a constant if fixed, else the decoder's second output, floored."""
  if fixed_log_scale is not None:
    return jnp.full_like(params[..., 0], fixed_log_scale)
  return jnp.maximum(params[..., 1], min_log_scale)


def _make_discretized(log_likelihood_fn, fixed_scale, min_log_scale, num_bins):
  fixed_log_scale = None if fixed_scale is None else math.log(fixed_scale)

  def log_prob(params, targets):
    mean = jnp.tanh(params[..., 0])  # Keeps the location inside the data range.
    return log_likelihood_fn(targets, mean, _scale_of(params, fixed_log_scale, min_log_scale), num_bins)
  return Likelihood(num_params=1 if fixed_scale is not None else 2, prepare=_identity_prepare,
                    log_prob=log_prob, mean_image=lambda params: jnp.tanh(params[..., 0]))


def _make_bernoulli(o):
  return Likelihood(
      num_params=1, prepare=_binarize(o.binarize_threshold),
      log_prob=lambda params, targets: bernoulli_log_likelihood(params[..., 0], targets),
      mean_image=lambda params: 2.0 * jax.nn.sigmoid(params[..., 0]) - 1.0)


def _discretized_factory(log_likelihood_fn):
  def make(o):
    return _make_discretized(log_likelihood_fn, o.fixed_scale, o.min_log_scale, o.num_bins)
  return make


# likelihood name -> factory(LikelihoodOptions) -> Likelihood.
LIKELIHOODS = {
    "bernoulli": _make_bernoulli,
    "discretized_logistic": _discretized_factory(discretized_logistic_log_likelihood),
    "discretized_gaussian": _discretized_factory(discretized_gaussian_log_likelihood),
}


@dataclasses.dataclass(frozen=True)
class LikelihoodOptions:
  """`config.likelihood`: the pixel model and its options.

  `fixed_scale` (None: the decoder learns a per-subpixel scale; a float fixes it, in
  units of the [-1, 1] range), `min_log_scale` (floor of a learned log-scale),
  `num_bins` (256 for 8-bit data), and for `bernoulli` `binarize_threshold` (stored uint8
  values at or above it are 1; use 1 for data stored as 0/1).
  """
  name: str
  fixed_scale: float | None
  min_log_scale: float
  num_bins: int
  binarize_threshold: int

  def check(self):
    one_of(self.name, LIKELIHOODS, "likelihood.name")
    require(self.fixed_scale is None or self.fixed_scale > 0,
            f"likelihood.fixed_scale must be > 0 (or None: learned), got {self.fixed_scale}")
    require(self.num_bins >= 2, f"likelihood.num_bins must be at least 2, got {self.num_bins}")
    require(1 <= self.binarize_threshold <= 255,
            f"likelihood.binarize_threshold must be in [1, 255], got {self.binarize_threshold}")


def get_likelihood(o: LikelihoodOptions) -> Likelihood:
  """The `Likelihood` that `o` names, with its options applied."""
  return LIKELIHOODS[o.name](o)


