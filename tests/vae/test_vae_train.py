"""The VAE task: a short digits run lowers the test bound; IWAE vs ELBO; conditioning."""

import json
import os

import jax
import numpy as np
import pytest

from aigc_jax import configlib, inference
from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.inference import vae as vae_inference
from aigc_jax.train import vae


def test_short_run_lowers_the_test_negative_elbo(short_run):
  initial, trained = short_run.initial, short_run.trained
  assert trained["test_images"] == 360
  assert trained["test_nelbo"] < initial["test_nelbo"] - 20.0, (initial, trained)
  assert trained["test_iwae_nll"] <= trained["test_nelbo"]
  with open(os.path.join(short_run.workdir, "metrics.jsonl")) as f:
    records = [json.loads(line) for line in f]
  assert [r["step"] for r in records] == [50, 100, 150, 200]
  assert {"loss", "nelbo", "recon", "kl"} <= set(records[-1])
  assert os.path.exists(os.path.join(short_run.workdir, "samples", "step_0000200.png"))


def test_grid_has_samples_then_input_and_reconstruction_rows(short_run):
  grid, ncols = vae.sample_grid(short_run.opts, short_run.state)
  assert ncols == 4 and grid.shape == (16, 8, 8, 1) and grid.dtype == np.uint8
  test = pipeline.make_dataset(short_run.config.data, "test", batch_size=4, train=False)[0]
  inputs = pipeline.to_uint8(test["image"])
  np.testing.assert_array_equal(grid[8:12], inputs)  # Row 3: test images; row 4: reconstructions.
  recons = grid[12:16].astype(int)
  assert np.abs(recons - inputs).mean() < np.abs(recons - inputs[::-1]).mean()


def test_iwae_k1_matches_the_elbo_in_expectation_and_larger_k_is_tighter(short_run):
  progs, params = vae.programs(short_run.opts), short_run.state.params
  test = pipeline.make_dataset(short_run.config.data, "test", batch_size=100, train=False)[0]
  x, labels = test["image"], test["label"]
  keys = [jax.random.key(i) for i in range(16)]
  nelbo = np.stack([np.add(*progs.elbo(params, x, labels, k)) for k in keys])  # recon + kl, [16, 100]
  iwae1 = np.stack([-np.asarray(progs.iwae(params, x, labels, k, 1)) for k in keys])
  iwae16 = np.stack([-np.asarray(progs.iwae(params, x, labels, k, 16)) for k in keys[:4]])
  # k = 1 is the ELBO with a sampled KL: the same mean, up to Monte Carlo error.
  diff = iwae1.mean(0) - nelbo.mean(0)
  assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(diff.size) + 0.05, (diff.mean(), diff.std())
  assert iwae16.mean() < iwae1.mean() - 0.5 and iwae16.mean() < nelbo.mean() - 0.5


def test_conditional_sampling_with_labels(short_run):
  run, key = short_run.run, jax.random.key(1)
  threes = vae_inference.sample(run, key, 5, labels=["3"])
  assert threes.shape == (5, 8, 8, 1) and threes.dtype == np.uint8
  np.testing.assert_array_equal(vae_inference.resolve_labels(run.opts, ["3", "7"], 5), [3, 7, 3, 7, 3])
  assert not np.array_equal(threes, vae_inference.sample(run, key, 5, labels=["7"]))
  # The family-generic entry point draws the same samples.
  np.testing.assert_array_equal(threes, inference.sample(run, key, 5, labels=["3"]))
  with pytest.raises(UserError, match=r"unknown label\(s\) 'x'.*valid labels: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"):
    vae_inference.sample(run, key, 5, labels=["x"])
  with pytest.raises(UserError, match="attributes"):
    vae_inference.sample(run, key, 5, attributes=["Smiling"])


def test_unconditional_run_refuses_labels():
  config = configlib.load_config("vae_digits:smoke")
  opts = vae.parse(config)
  state = jax.eval_shape(lambda k: vae.init_state(opts, k), jax.random.key(0))  # Never decoded.
  run = inference.Run("unused", config, opts, vae.TASK, state)
  with pytest.raises(UserError, match="unconditional"):
    vae_inference.sample(run, jax.random.key(1), 2, labels=["3"])


def test_slerp_ends_at_its_endpoints():
  z0, z1 = np.random.default_rng(0).normal(size=(2, 3, 6))
  path = np.asarray(vae_inference.slerp(z0, z1, np.linspace(0, 1, 5)))
  assert path.shape == (3, 5, 6)
  np.testing.assert_allclose(path[:, 0], z0, atol=1e-5)
  np.testing.assert_allclose(path[:, -1], z1, atol=1e-5)
