"""EDM's formulas and samplers against closed forms: the preconditioning and loss weight,
the loss at the ideal denoiser of Gaussian data, the sampler driven by that denoiser
(moments, and the order of convergence of Heun against Euler), guidance, and rectified
flow written in EDM's form (its loss, and the ideal velocity through the same sampler)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax.train import edm

SD = 0.5


def test_preconditioning_and_loss_weight_match_edm_table_1():
  sigma = np.array([0.002, 0.1, 0.5, 1.0, 3.0, 80.0])
  pc = edm.precondition(jnp.asarray(sigma), SD)
  np.testing.assert_allclose(pc.c_skip, SD ** 2 / (sigma ** 2 + SD ** 2), rtol=1e-6)
  np.testing.assert_allclose(pc.c_out, sigma * SD / np.sqrt(sigma ** 2 + SD ** 2), rtol=1e-6)
  np.testing.assert_allclose(pc.c_in, 1 / np.sqrt(sigma ** 2 + SD ** 2), rtol=1e-6)
  np.testing.assert_allclose(pc.c_noise, np.log(sigma) / 4, rtol=1e-6)
  weight = edm.loss_weight(jnp.asarray(sigma), SD)
  np.testing.assert_allclose(weight, (sigma ** 2 + SD ** 2) / (sigma * SD) ** 2, rtol=1e-6)
  np.testing.assert_allclose(weight * pc.c_out ** 2, 1.0, rtol=1e-5)  # The target has unit weight.
  # The network's input c_in * (x + sigma n) has unit variance for data of std sigma_data.
  np.testing.assert_allclose(pc.c_in ** 2 * (SD ** 2 + sigma ** 2), 1.0, rtol=1e-5)


def test_training_sigmas_are_log_normal():
  s = np.log(np.asarray(edm.sample_sigmas(jax.random.key(0), 200_000, -1.2, 1.2)))
  assert abs(s.mean() + 1.2) < 0.01 and abs(s.std() - 1.2) < 0.01


def test_karras_schedule():
  s = edm.karras_sigmas(18)
  assert len(s) == 19 and s[-1] == 0 and np.all(np.diff(s) < 0)
  np.testing.assert_allclose(s[[0, 17]], [80.0, 0.002], rtol=1e-12)
  np.testing.assert_allclose(s[1], (80 ** (1 / 7) + (0.002 ** (1 / 7) - 80 ** (1 / 7)) / 17) ** 7)
  assert [edm.network_evaluations(n) for n in (3, 5, 9, 18)] == [5, 9, 17, 35]


def _gaussian(dim, seed=0):
  """A Gaussian (mean [dim], covariance [dim, dim]) and its ideal denoiser
  D(y, sigma) = mu + Sigma (Sigma + sigma^2 I)^-1 (y - mu), for y [B, dim], sigma [B]."""
  rng = np.random.default_rng(seed)
  a = rng.normal(size=(dim, dim)) * 0.3
  cov = a @ a.T + 0.25 * np.eye(dim)  # Standard deviations about sigma_data (0.5), as images have.
  mu = rng.normal(size=dim) * 0.5
  evals, evecs = np.linalg.eigh(cov)

  def denoise(y, sigma):
    v, q, m = (jnp.asarray(t, y.dtype) for t in (evals, evecs, mu))
    z = (y - m) @ q
    return m + (z * (v / (v + sigma[:, None] ** 2))) @ q.T
  return mu, cov, evals, evecs, denoise


def test_loss_at_the_ideal_denoiser_equals_its_closed_form():
  """Per dimension with eigenvalue v the ideal denoiser's error variance is v s^2 / (v + s^2),
  so the loss at sigma is lambda(sigma) * mean_i v_i sigma^2 / (v_i + sigma^2)."""
  mu, cov, evals, _, denoise = _gaussian(4)
  n = 400_000
  k_x, k_n = jax.random.split(jax.random.key(1))
  x = jnp.asarray(mu + np.asarray(jax.random.normal(k_x, (n, 4))) @ np.linalg.cholesky(cov).T, jnp.float32)
  noise = jax.random.normal(k_n, (n, 4))
  analytic = lambda s: edm.loss_weight(s, SD) * np.mean(evals * s ** 2 / (evals + s ** 2))
  for s in (0.05, 0.5, 2.0):
    loss = edm.denoising_loss(denoise, x, jnp.full((n,), s), noise, SD)
    np.testing.assert_allclose(float(jnp.mean(loss)), analytic(s), rtol=0.01)
  # Over EDM's log-normal sigma: the expectation by Gauss-Hermite quadrature.
  sigma = edm.sample_sigmas(jax.random.key(2), n)
  loss = float(jnp.mean(edm.denoising_loss(denoise, x, sigma, noise, SD)))
  t, w = np.polynomial.hermite_e.hermegauss(60)
  expected = sum(wi * analytic(np.exp(-1.2 + 1.2 * ti)) for ti, wi in zip(t, w)) / np.sqrt(2 * np.pi)
  np.testing.assert_allclose(loss, expected, rtol=0.02)


# Step counts where the discretisation error of the variance is about 1% (Heun) and 0.6%
# (Euler): at 18 Heun steps it is about 11% for this Gaussian, falling as steps^-2
# (the convergence test below).
@pytest.mark.parametrize("method,steps,churn", [("heun", 100, 0.0), ("euler", 1000, 0.0), ("heun", 100, 20.0)])
def test_sampler_with_the_ideal_denoiser_reproduces_mean_and_covariance(method, steps, churn):
  mu, cov, _, _, denoise = _gaussian(3)
  n = 20_000
  k0, k1 = jax.random.split(jax.random.key(3))
  x = jax.random.normal(k0, (n, 3)) * 80.0
  noise = lambda i: jax.random.normal(jax.random.fold_in(k1, i), (n, 3))
  out = np.asarray(jax.jit(lambda x: edm.solve(denoise, x, edm.karras_sigmas(steps), method=method,
                                               churn=edm.Churn(s_churn=churn), noise=noise))(x), np.float64)
  assert np.all(np.isfinite(out))
  np.testing.assert_allclose(out.mean(0), mu, atol=0.02)
  np.testing.assert_allclose(np.cov(out.T), cov, atol=0.025 * np.abs(cov).max())


def test_heun_converges_at_second_order_and_euler_at_first():
  """The ODE of Gaussian data has the exact solution mu + Q diag(sqrt((v + s^2) / (v +
  s0^2))) Q^T (x0 - mu) from sigma s0 to s; the error at sigma_min against the number of
  steps falls as N^-2 for Heun and N^-1 for Euler (slopes fitted on a log-log scale)."""
  with jax.enable_x64(True):
    mu, _, evals, evecs, denoise = _gaussian(3)
    x0 = jnp.asarray(np.random.default_rng(4).normal(size=(64, 3)) * 80.0)
    z = (np.asarray(x0) - mu) @ evecs
    s0, s1 = 80.0, 0.002
    exact = mu + (z * np.sqrt((evals + s1 ** 2) / (evals + s0 ** 2))) @ evecs.T
    counts = np.array([8, 16, 32, 64])
    slopes = {}
    for method in ("heun", "euler"):
      errors = []
      for n in counts:
        sigmas = edm.karras_sigmas(n + 1)[:-1]  # n steps from 80 to sigma_min: all corrected.
        out = edm.solve(denoise, x0, sigmas, method=method)
        errors.append(float(np.max(np.abs(np.asarray(out) - exact))))
      slopes[method] = np.polyfit(np.log(counts), np.log(errors), 1)[0]
  assert slopes["heun"] < -1.8, slopes
  assert -1.3 < slopes["euler"] < -0.7, slopes


def test_guidance_combines_the_two_branches():
  null = 10

  def denoise(y, sigma, labels):  # A stand-in: the label shifts the output.
    return y + jnp.where(labels == null, 0.0, 1.0 + labels.astype(y.dtype))[:, None]
  y, sigma, labels = jnp.zeros((2, 3)), jnp.ones((2,)), jnp.array([2, 5])
  cond, uncond = 1.0 + np.array([2.0, 5.0])[:, None], 0.0
  for g in (0.0, 1.0, 2.0, 3.5):
    out = edm.guided(denoise, g, null)(y, sigma, labels)
    np.testing.assert_allclose(out, np.broadcast_to(uncond + g * (cond - uncond), (2, 3)), rtol=1e-6)


def test_ema_decay_ramps_up_with_a_half_life_of_a_share_of_the_steps():
  steps = np.array([0, 1, 10, 100, 1650, 10_000, 100_000])
  decay = np.asarray(edm.ema_decay(jnp.asarray(steps), 0.999, 0.05))
  assert decay[0] == 0.0  # The average starts at the first trained weights.
  uncapped = steps[1:5]  # Half-life 0.05 x steps: the weights of that long ago count half.
  np.testing.assert_allclose(decay[1:5] ** (0.05 * uncapped), 0.5, rtol=1e-5)
  assert np.all(np.diff(decay) >= 0) and decay[-1] == np.float32(0.999)  # Capped once 0.05 t > 693.
  np.testing.assert_allclose(edm.ema_decay(jnp.asarray(7), 0.99, 0.0), 0.99, rtol=1e-7)


def test_flow_objective_is_rectified_flow_in_edm_form():
  """With sigma = t / (1 - t), the "flow" preconditioning feeds F the interpolant x_t =
  (1 - t) x + t n, gives D = x_t - t F, and its weighted loss is the flow-matching loss
  (F - (n - x))^2, for any F."""
  rng = np.random.default_rng(5)
  x, n = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
  t = np.array([0.01, 0.2, 0.5, 0.7, 0.9, 0.99])
  sigma = t / (1 - t)
  a = rng.normal(size=(4, 4))
  net = lambda z, c: jnp.tanh(z @ a + c[:, None])  # An arbitrary F(x_t, c_noise).
  pc = edm.precondition(jnp.asarray(sigma), objective="flow")
  np.testing.assert_allclose(pc.c_noise, np.log(t / (1 - t)) / 4, rtol=1e-6)  # logit(t) / 4.

  def denoise(y, s):
    p = edm.precondition(s, objective="flow")
    return p.c_skip[:, None] * y + p.c_out[:, None] * net(p.c_in[:, None] * y, p.c_noise)
  y = x + sigma[:, None] * n
  x_t = (1 - t[:, None]) * x + t[:, None] * n
  np.testing.assert_allclose(pc.c_in[:, None] * y, x_t, rtol=1e-6, atol=1e-12)
  f = np.asarray(net(jnp.asarray(x_t), pc.c_noise))
  np.testing.assert_allclose(denoise(jnp.asarray(y), jnp.asarray(sigma)), x_t - t[:, None] * f, rtol=1e-5, atol=1e-6)
  loss = edm.denoising_loss(denoise, jnp.asarray(x), jnp.asarray(sigma), jnp.asarray(n), objective="flow")
  np.testing.assert_allclose(loss, np.mean((f - (n - x)) ** 2, axis=1), rtol=1e-4)
  with pytest.raises(ValueError, match="objective"):
    edm.precondition(jnp.asarray(sigma), objective="Flow")


def test_ideal_velocity_samples_the_gaussian_with_the_edm_sampler():
  """The ideal velocity of Gaussian data, E[n - x | x_t], wrapped by the "flow"
  preconditioning, is EDM's ideal denoiser, so the same Heun sampler reproduces the data's
  mean and covariance."""
  mu, cov, evals, evecs, ideal = _gaussian(3)

  def velocity(x_t, c_noise):
    """x_t = (1 - t) x + t n is jointly Gaussian with x: in the covariance's eigenbasis,
    E[x | x_t] = mu + (1 - t) v / ((1 - t)^2 v + t^2) (x_t - (1 - t) mu) per axis."""
    t = jax.nn.sigmoid(4.0 * c_noise)[:, None]
    v, q, m = (jnp.asarray(a, x_t.dtype) for a in (evals, evecs, mu))
    z = (x_t - (1 - t) * m) @ q
    x_hat = m + (z * ((1 - t) * v / ((1 - t) ** 2 * v + t ** 2))) @ q.T
    n_hat = (x_t - (1 - t) * x_hat) / t
    return n_hat - x_hat

  def denoise(y, sigma):
    p = edm.precondition(sigma, objective="flow")
    return p.c_skip[:, None] * y + p.c_out[:, None] * velocity(p.c_in[:, None] * y, p.c_noise)
  y = jnp.asarray(np.random.default_rng(6).normal(size=(5, 3)) * 3.0)
  for s in (0.05, 1.0, 20.0):
    np.testing.assert_allclose(denoise(y, jnp.full((5,), s)), ideal(y, jnp.full((5,), s)), rtol=1e-4, atol=1e-4)
  n = 20_000
  x = jax.random.normal(jax.random.key(7), (n, 3)) * 80.0
  out = np.asarray(jax.jit(lambda x: edm.solve(denoise, x, edm.karras_sigmas(100)))(x), np.float64)
  np.testing.assert_allclose(out.mean(0), mu, atol=0.02)
  np.testing.assert_allclose(np.cov(out.T), cov, atol=0.025 * np.abs(cov).max())
