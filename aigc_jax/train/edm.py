"""EDM's formulas (Karras et al., 2022, "Elucidating the Design Space of Diffusion-Based
Generative Models"), as pure functions over arrays: the preconditioning, the training
noise levels and loss weight, the sampling schedule, and the Heun and Euler samplers
with stochastic churn and classifier-free guidance.

Conventions: data x float [B, ...] with standard deviation about `sigma_data` (0.5 for
images in [-1, 1]); a noise level sigma is the standard deviation of the Gaussian noise
added, y = x + sigma * n; a denoiser `denoise(y, sigma) -> x_hat` takes y [B, ...] and
sigma float [B] and estimates E[x | y]. The probability-flow ODE is
dx/dsigma = (x - D(x, sigma)) / sigma, integrated from sigma_max down to 0.

Two training objectives share the network and the samplers (`OBJECTIVES`): "edm", EDM's
preconditioning and loss weight, and "flow", rectified flow (flow matching: Liu et al.,
2022; Lipman et al., 2022). The flow interpolates x_t = (1 - t) x + t n and regresses
the velocity n - x; with sigma = t / (1 - t) its x_t is y / (1 + sigma), so the same
y = x + sigma n, the same denoiser form D = c_skip y + c_out F(c_in y, c_noise) and the
same probability-flow ODE (hence the same samplers) hold, with F the velocity and
other scalings (`precondition`) and loss weight (`loss_weight`). A normal ln(sigma) is a
logit-normal t (ln sigma = logit t), the time distribution of Esser et al., 2024.

Nothing here knows the network: `aigc_jax.train.diffusion` builds D from the U-Net with
`precondition`, and the tests drive the same samplers with the closed-form denoiser of
Gaussian data.
"""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


OBJECTIVES = ("edm", "flow")


def _check_objective(objective: str):
  if objective not in OBJECTIVES:
    raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")


class Preconditioning(NamedTuple):
  """EDM's table 1: D(y, sigma) = c_skip y + c_out F(c_in y, c_noise), each float [B]."""
  c_skip: jax.Array
  c_out: jax.Array
  c_in: jax.Array
  c_noise: jax.Array


def precondition(sigma, sigma_data: float = 0.5, objective: str = "edm") -> Preconditioning:
  """The scalings at noise levels sigma float [B].

  "edm": the network's input and its training target both have unit variance at every
  sigma for data of standard deviation sd: c_skip = sd^2 / (sigma^2 + sd^2), c_out =
  sigma sd / sqrt(sigma^2 + sd^2), c_in = 1 / sqrt(sigma^2 + sd^2), c_noise = ln(sigma) / 4.

  "flow" (sd unused): F is the velocity at x_t = c_in y and t = sigma / (1 + sigma), and
  D = x_t - t F, the flow's estimate of x: c_skip = c_in = 1 / (1 + sigma), c_out =
  -sigma / (1 + sigma); c_noise = ln(sigma) / 4 = logit(t) / 4 as well, a monotone
  function of t on the scale the noise embedding is made for.
  """
  _check_objective(objective)
  if objective == "flow":
    c = 1.0 / (1.0 + sigma)
    return Preconditioning(c_skip=c, c_out=-sigma * c, c_in=c, c_noise=jnp.log(sigma) / 4.0)
  total = sigma ** 2 + sigma_data ** 2
  return Preconditioning(c_skip=sigma_data ** 2 / total, c_out=sigma * sigma_data / jnp.sqrt(total),
                         c_in=1.0 / jnp.sqrt(total), c_noise=jnp.log(sigma) / 4.0)


def loss_weight(sigma, sigma_data: float = 0.5, objective: str = "edm"):
  """lambda(sigma) = 1 / c_out^2, which makes lambda (D - x)^2 the network's own
  regression (F - its target)^2.

  "edm": (sigma^2 + sd^2) / (sigma sd)^2, a unit-variance target at every sigma.
  "flow": ((1 + sigma) / sigma)^2 = 1 / t^2, the flow-matching loss (F - (n - x))^2,
  since D - x = t (n - x - F).
  """
  _check_objective(objective)
  if objective == "flow":
    return ((1.0 + sigma) / sigma) ** 2
  return (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2


def ema_decay(step, max_decay: float, rampup: float):
  """The EMA's decay at train step `step` (0-based; the update follows that step's
  optimizer update), EDM's ramp-up.

  The average's half-life, in steps, is `rampup` times the steps taken so far, so it
  always averages the latest few percent of training instead of keeping the random
  initial weights (a constant decay d keeps a share d^t of them after t steps); the
  decay never exceeds `max_decay`. Step 0 gives decay 0: the average starts at the
  first trained weights. `rampup` 0 gives `max_decay` at every step.
  """
  if not rampup:
    return jnp.asarray(max_decay, jnp.float32)
  halflife = jnp.maximum(rampup * jnp.asarray(step, jnp.float32), 1e-8)
  return jnp.minimum(max_decay, 0.5 ** (1.0 / halflife))


def sample_sigmas(key, num: int, p_mean: float = -1.2, p_std: float = 1.2):
  """Training noise levels float32 [num]: ln(sigma) ~ N(p_mean, p_std^2) (for the flow:
  t = sigma / (1 + sigma) logit-normal, logit t ~ N(p_mean, p_std^2))."""
  return jnp.exp(p_mean + p_std * jax.random.normal(key, (num,), jnp.float32))


def denoising_loss(denoise: Callable, x, sigma, noise, sigma_data: float = 0.5, objective: str = "edm"):
  """Per-example loss float [B]: lambda(sigma) * mean over pixels of (D(x + sigma n,
  sigma) - x)^2, for clean x [B, ...], sigma [B] and standard normal noise n [B, ...];
  lambda is the objective's `loss_weight`."""
  s = sigma.reshape((-1,) + (1,) * (x.ndim - 1))
  err = (denoise(x + s * noise, sigma) - x) ** 2
  return loss_weight(sigma, sigma_data, objective) * jnp.mean(err.reshape(len(x), -1), axis=-1)


def karras_sigmas(steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0):
  """The sampling schedule float64 numpy [steps + 1]: sigma_i = (sigma_max^(1/rho) + i /
  (steps - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho for i < steps, then 0.

  rho = 7 shortens the steps near sigma_min, where the ODE curves most (EDM eq. 5).
  Numpy, so the samplers see the levels as constants and choose per step, while tracing,
  whether a correction is possible (not on the last step, to sigma = 0).
  """
  if steps < 1:
    raise ValueError(f"steps must be at least 1, got {steps}")
  i = np.arange(steps, dtype=np.float64)
  inv = 1.0 / rho
  ramp = i / max(steps - 1, 1)
  sig = (sigma_max ** inv + ramp * (sigma_min ** inv - sigma_max ** inv)) ** rho
  return np.append(sig, 0.0)


def network_evaluations(steps: int, method: str = "heun") -> int:
  """Denoiser calls of a sampler run (per sample and guidance branch): Heun makes two
  per step but one on the last, to sigma = 0 (2 * steps - 1); Euler one per step."""
  return 2 * steps - 1 if method == "heun" else steps


class Churn(NamedTuple):
  """EDM's stochastic sampler (algorithm 2): at each sigma in [s_tmin, s_tmax], raise the
  level by gamma = min(s_churn / steps, sqrt(2) - 1) with fresh noise scaled by s_noise.
  s_churn = 0 is the deterministic ODE sampler."""
  s_churn: float = 0.0
  s_tmin: float = 0.0
  s_tmax: float = float("inf")
  s_noise: float = 1.0


def solve(denoise: Callable, x, sigmas, *, method: str = "heun", churn: Churn = Churn(), noise=None):
  """Integrates the probability-flow ODE along `sigmas` (numpy, decreasing, e.g.
  `karras_sigmas`) from x [B, ...] at sigmas[0]; returns x at sigmas[-1].

  "heun": EDM's algorithm 1/2, the trapezoid correction on every step whose target
  sigma is > 0 (second order); "euler": the first-order step alone. With churn,
  `noise(i)` gives step i's standard normal noise shaped like x (the caller decides how
  it is drawn; the family draws it per sample, so a sample does not depend on its
  batch). The steps of one kind run in a `lax.scan`
  (one compiled step body, whatever the count); sigmas are constants of the program.
  """
  sigmas = np.asarray(sigmas, np.float64)
  steps = len(sigmas) - 1
  gammas = np.where((sigmas[:-1] >= churn.s_tmin) & (sigmas[:-1] <= churn.s_tmax),
                    min(churn.s_churn / steps, np.sqrt(2.0) - 1.0), 0.0)
  stochastic = churn.s_churn > 0
  if stochastic and noise is None:
    raise ValueError("a churned sampler needs noise")

  def full(sig):
    return jnp.full((x.shape[0],), sig, x.dtype)

  def step(x, i, t_cur, t_next, gamma, correct: bool):
    t_hat = t_cur * (1.0 + gamma)
    if stochastic:
      x = x + jnp.sqrt(jnp.maximum(t_hat ** 2 - t_cur ** 2, 0.0)) * churn.s_noise * noise(i)
    d = (x - denoise(x, full(t_hat))) / t_hat
    x_next = x + (t_next - t_hat) * d
    if correct:
      d_next = (x_next - denoise(x_next, full(t_next))) / t_next
      x_next = x + (t_next - t_hat) * 0.5 * (d + d_next)
    return x_next

  if method not in ("heun", "euler"):
    raise ValueError(f"method must be 'heun' or 'euler', got {method!r}")
  # Heun corrects every step but one to sigma = 0 (it would divide by 0 there).
  n_scan = steps - 1 if method == "heun" and sigmas[-1] == 0 else steps
  table = jnp.asarray(np.stack([sigmas[:-1], sigmas[1:], gammas], axis=1)[:n_scan], x.dtype)

  def body(x, row_i):
    row, i = row_i
    return step(x, i, row[0], row[1], row[2], method == "heun"), None
  if n_scan:
    x, _ = jax.lax.scan(body, x, (table, jnp.arange(n_scan)))
  if n_scan < steps:
    x = step(x, steps - 1, sigmas[-2], sigmas[-1], gammas[-1], False)
  return x


def guided(denoise_cond: Callable, guidance: float, null_label: int):
  """The classifier-free guided denoiser D = D_uncond + g (D_cond - D_uncond).

  `denoise_cond(y, sigma, labels)` is a class-conditional denoiser whose label
  `null_label` means "no label". Returns `fn(y, sigma, labels)`. g = 1 is the plain
  conditional model and g = 0 the unconditional one (one network call each); other g
  batch both branches into one call of twice the batch.
  """
  def fn(y, sigma, labels):
    null = jnp.full_like(labels, null_label)
    if guidance == 1:
      return denoise_cond(y, sigma, labels)
    if guidance == 0:
      return denoise_cond(y, sigma, null)
    both = denoise_cond(jnp.concatenate([y, y]), jnp.concatenate([sigma, sigma]), jnp.concatenate([labels, null]))
    d_cond, d_uncond = jnp.split(both, 2)
    return d_uncond + guidance * (d_cond - d_uncond)
  return fn
