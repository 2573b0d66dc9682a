"""The Gaussian CRF against a dense numpy reference: weights, energy, exact minimiser, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax import crf
from aigc_jax.errors import UserError


def _numpy_weights(guide, theta_a, theta_b, window):
  """Dense [N, H*W, H*W] w_ij by a direct loop over pixel pairs."""
  n, h, w, _ = guide.shape
  r = window // 2
  dense = np.zeros((n, h * w, h * w))
  for b in range(n):
    for i in range(h):
      for j in range(w):
        for a in range(i - r, i + r + 1):
          for c in range(j - r, j + r + 1):
            if (a, c) == (i, j) or not (0 <= a < h and 0 <= c < w):
              continue
            colour = np.sum((guide[b, i, j].astype(np.float64) - guide[b, a, c]) ** 2)
            dense[b, i * w + j, a * w + c] = np.exp(
                -((i - a) ** 2 + (j - c) ** 2) / (2 * theta_a ** 2) - colour / (2 * theta_b ** 2))
  return dense


def _numpy_solve(u, guide, lam, theta_a, theta_b, window):
  """The exact minimiser: (I + 2 lam L) y = u with L = D - W, per image and channel."""
  n, h, w, c = u.shape
  dense = _numpy_weights(guide, theta_a, theta_b, window)
  out = np.zeros(u.shape)
  for b in range(n):
    laplacian = np.diag(dense[b].sum(1)) - dense[b]
    system = np.eye(h * w) + 2 * lam * laplacian
    out[b] = np.linalg.solve(system, u[b].reshape(h * w, c).astype(np.float64)).reshape(h, w, c)
  return out


def _data(shape=(2, 7, 5), c=3, cg=2, seed=0):
  rng = np.random.default_rng(seed)
  u = rng.uniform(-1, 1, shape + (c,)).astype(np.float32)
  # A guide with two flat regions and a little noise: strong weights inside, weak across.
  guide = np.where(np.arange(shape[2])[None, None, :, None] < shape[2] // 2, -0.8, 0.7)
  guide = (guide + 0.1 * rng.standard_normal(shape + (cg,))).clip(-1, 1).astype(np.float32)
  return u, guide


@pytest.mark.parametrize("window", [3, 5])
def test_pairwise_weights_match_a_direct_loop(window):
  _, guide = _data()
  got = np.asarray(crf.pairwise_weights(guide, theta_a=1.7, theta_b=0.4, window=window))
  assert got.shape == (2, 7, 5, window * window)
  dense = _numpy_weights(guide, 1.7, 0.4, window)
  r = window // 2
  for i in range(7):
    for j in range(5):
      for o in range(window * window):
        a, c = i + o // window - r, j + o % window - r
        inside = 0 <= a < 7 and 0 <= c < 5 and (a, c) != (i, j)
        expected = dense[:, i * 5 + j, a * 5 + c] if inside else 0.0
        np.testing.assert_allclose(got[:, i, j, o], expected, rtol=2e-5, atol=1e-7)
  assert np.allclose(dense, dense.transpose(0, 2, 1))  # Symmetric: the Laplacian is SPD.


def test_energy_is_the_written_sum_and_its_quadratic_form():
  u, guide = _data()
  y = np.random.default_rng(3).uniform(-1, 1, u.shape).astype(np.float32)
  lam = 0.7
  weights = crf.pairwise_weights(guide, theta_a=2.0, theta_b=0.5, window=5)
  got = np.asarray(crf.energy(y, u, weights, lam, 5))
  dense = _numpy_weights(guide, 2.0, 0.5, 5)
  for b in range(2):
    flat_y = y[b].reshape(35, 3).astype(np.float64)
    pairs = sum(dense[b, i, j] * np.sum((flat_y[i] - flat_y[j]) ** 2) for i in range(35) for j in range(35))
    written = np.sum((y[b] - u[b]).astype(np.float64) ** 2) + lam * pairs
    laplacian = np.diag(dense[b].sum(1)) - dense[b]
    quadratic = np.sum((y[b] - u[b]).astype(np.float64) ** 2) + 2 * lam * np.trace(flat_y.T @ laplacian @ flat_y)
    np.testing.assert_allclose(got[b], written, rtol=1e-5)
    np.testing.assert_allclose(written, quadratic, rtol=1e-10)


def test_lambda_zero_is_the_identity():
  u, guide = _data()
  out = crf.gaussian_crf(u, guide, lam=0.0, theta_a=2.0, theta_b=0.3, iterations=5)
  np.testing.assert_array_equal(np.asarray(out), u)


@pytest.mark.parametrize("lam", [0.3, 4.0])
def test_energy_never_increases_and_steps_reach_the_exact_minimiser(lam):
  u, guide = _data()
  weights = crf.pairwise_weights(guide, theta_a=2.0, theta_b=0.5, window=5)
  ys = crf.cg_iterates(u, weights, lam, iterations=40, window=5)
  energies = np.stack([np.asarray(crf.energy(y, u, weights, lam, 5)) for y in ys])
  assert energies[1].max() < energies[0].min() or energies[1].sum() < energies[0].sum()
  steps = np.diff(energies, axis=0)
  assert np.all(steps <= 1e-6 * energies[0]), steps.max()  # Round-off only, never a real rise.
  exact = _numpy_solve(u, guide, lam, 2.0, 0.5, 5)
  np.testing.assert_allclose(np.asarray(ys[-1]), exact, atol=2e-5)
  # A few steps are already far better than none: the reason for CG.
  assert np.abs(np.asarray(ys[5]) - exact).max() < 0.1 * np.abs(u - exact).max()
  # The energy of the exact minimiser is the floor.
  assert np.all(energies[-1] >= np.asarray(crf.energy(exact.astype(np.float32), u, weights, lam, 5)) - 1e-4)


def test_gaussian_crf_is_the_last_iterate_on_odd_sizes_and_jits():
  u, guide = _data((1, 7, 5), c=1, cg=3)
  kwargs = dict(lam=1.5, theta_a=1.5, theta_b=0.4, window=3, iterations=30)
  eager = crf.gaussian_crf(u, guide, **kwargs)
  jitted = jax.jit(lambda a, b: crf.gaussian_crf(a, b, **kwargs))(u, guide)
  assert eager.shape == (1, 7, 5, 1) and eager.dtype == jnp.float32
  np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), atol=1e-6)
  np.testing.assert_allclose(np.asarray(eager), _numpy_solve(u, guide, 1.5, 1.5, 0.4, 3), atol=2e-5)
  # A 1x1 image has no neighbours: nothing to smooth.
  one = crf.gaussian_crf(u[:, :1, :1], guide[:, :1, :1], lam=3.0, theta_a=1.0, theta_b=1.0)
  np.testing.assert_array_equal(np.asarray(one), u[:, :1, :1])


def test_refinement_smooths_within_guide_regions_not_across_edges():
  # A step edge in the guide; a noisy copy of it as the output to refine.
  guide = np.where(np.arange(12)[None, None, :, None] < 6, -1.0, 1.0) * np.ones((1, 12, 12, 1))
  noisy = guide + 0.3 * np.random.default_rng(0).standard_normal(guide.shape)
  out = np.asarray(crf.gaussian_crf(noisy.astype(np.float32), guide.astype(np.float32), lam=2.0,
                                    theta_a=2.0, theta_b=0.2, iterations=20))
  assert np.abs(out - guide).mean() < 0.5 * np.abs(noisy - guide).mean()
  assert out[..., :6, :].mean() < -0.8 and out[..., 6:, :].mean() > 0.8  # The edge survives.


def test_gradients_match_finite_differences():
  u, guide = _data((1, 4, 3), c=2, cg=2, seed=5)
  rng = np.random.default_rng(1)
  cot = rng.standard_normal(u.shape)
  du, dg = rng.standard_normal(u.shape), rng.standard_normal(guide.shape)
  with jax.enable_x64(True):
    @jax.jit
    def loss(y, g, lam, ta, tb):
      out = crf.gaussian_crf(y, g, lam=lam, theta_a=ta, theta_b=tb, window=3, iterations=4)
      return jnp.sum(out * cot)
    args = (u.astype(np.float64), guide.astype(np.float64), 0.8, 1.3, 0.6)
    grads = jax.jit(jax.grad(loss, argnums=range(5)))(*args)
    assert grads[0].dtype == jnp.float64
    directions = (du, dg, 1.0, 1.0, 1.0)
    eps = 1e-6
    for k, direction in enumerate(directions):
      plus = list(args)
      minus = list(args)
      plus[k] = args[k] + eps * direction
      minus[k] = args[k] - eps * direction
      numeric = (loss(*plus) - loss(*minus)) / (2 * eps)
      analytic = np.sum(np.asarray(grads[k]) * direction)
      np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9, err_msg=f"argument {k}")
      assert abs(analytic) > 1e-4  # Every argument matters.


def test_layer_keeps_parameters_positive_and_computes_the_function():
  u, guide = _data((1, 6, 6), c=3, cg=1)
  options = crf.CRFOptions(lam=0.5, theta_a=1.5, theta_b=0.25, window=3, iterations=6)
  layer = crf.CRFLayer(options)
  params = layer.init(jax.random.key(0, impl="rbg"), u, guide)["params"]
  assert set(params) == {"raw_lam", "raw_theta_a", "raw_theta_b"}
  values = crf.positive_parameters(params)
  assert values == pytest.approx({"lam": 0.5, "theta_a": 1.5, "theta_b": 0.25}, rel=1e-5)
  expected = crf.gaussian_crf(u, guide, lam=0.5, theta_a=1.5, theta_b=0.25, window=3, iterations=6)
  apply = jax.jit(lambda p: layer.apply({"params": p}, u, guide))
  np.testing.assert_allclose(np.asarray(apply(params)), np.asarray(expected), atol=1e-5)
  # Gradient steps on the raw parameters can never make the values negative.
  far = jax.tree.map(lambda p: p - 50.0, params)
  assert all(v > 0 for v in crf.positive_parameters(far).values())
  grads = jax.jit(jax.grad(lambda p: jnp.sum(apply(p) ** 2)))(params)
  assert all(np.isfinite(g) and g != 0 for g in jax.tree.leaves(grads))
  fixed = crf.CRFLayer(crf.CRFOptions(learnable=False, window=3))
  assert fixed.init(jax.random.key(0, impl="rbg"), u, guide) == {}


def test_options_and_refine_check_their_input():
  assert crf.CRFOptions.from_config({"lam": 2, "window": 7}).window == 7
  with pytest.raises(UserError, match="unknown crf key"):
    crf.CRFOptions.from_config({"lambda": 2})
  with pytest.raises(UserError, match="odd"):
    crf.CRFOptions(window=4)
  with pytest.raises(UserError, match="theta_b"):
    crf.CRFOptions(theta_b=0)
  u, guide = _data((1, 6, 6), c=3, cg=3)
  out = np.asarray(crf.refine(u * 3, guide, crf.CRFOptions(lam=0.1, window=3)))
  assert out.shape == u.shape and out.min() >= -1 and out.max() <= 1
  with pytest.raises(UserError, match="guide"):
    crf.refine(u, guide[:, :5])


def test_near_guide_edges_marks_a_band_around_the_step():
  guide = np.where(np.arange(12)[None, None, :, None] < 6, -1.0, 1.0) * np.ones((2, 9, 12, 3))
  near = crf.near_guide_edges(guide, radius=2)
  assert near.shape == (2, 9, 12)
  # The Sobel step response covers columns 5 and 6; two more on each side.
  np.testing.assert_array_equal(near[0, 4], [False] * 3 + [True] * 6 + [False] * 3)
  assert not crf.near_guide_edges(np.zeros((1, 5, 5, 1))).any()
