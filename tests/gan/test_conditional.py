"""Conditional generation: conditioned modules, names resolved against the dataset, the
per-class grid, and `aigc sample --labels` / `aigc eval` on a class-conditional run."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax import configlib
from aigc_jax.cli.main import main
from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.models import dcgan
from aigc_jax.train import gan

CGAN_SMOKE = ["--config", "cgan_digits:smoke"]


@pytest.mark.parametrize("mode", ["concat", "projection"])
def test_discriminator_output_depends_on_the_condition(mode):
  d = dcgan.Discriminator(resolution=8, base_features=4, cond_dim=3, conditioning=mode)
  x = jax.random.uniform(jax.random.key(0), (2, 8, 8, 1), minval=-1, maxval=1)
  y0, y1 = jax.nn.one_hot(jnp.array([0, 0]), 3), jax.nn.one_hot(jnp.array([2, 2]), 3)


  @jax.jit
  def run(key):
    variables = d.init(key, x, y0, train=False)
    return variables, d.apply(variables, x, y0, train=False), d.apply(variables, x, y1, train=False)
  variables, a, b = run(jax.random.key(1))
  assert a.shape == (2,) and not np.allclose(a, b)
  with pytest.raises(ValueError, match="conditional"):
    d.apply(variables, x, train=False)


def test_generator_output_depends_on_the_condition_and_defaults_are_unchanged():
  g = dcgan.Generator(resolution=8, channels=1, base_features=4, cond_dim=3, cbn=True)
  z = jnp.zeros((3, 5))  # One latent, three classes.
  y = jax.nn.one_hot(jnp.arange(3), 3)

  @jax.jit
  def run(key):
    variables = g.init(key, z, y, train=False)
    return variables, g.apply(variables, z, y, train=False)
  variables, outs = run(jax.random.key(0))
  assert {"embed", "ConditionalBatchNorm_0"} <= set(variables["params"])
  assert not np.allclose(outs[0], outs[1]) and not np.allclose(outs[1], outs[2])
  plain = dcgan.Generator(resolution=8, channels=1, base_features=4)
  assert "embed" not in jax.eval_shape(plain.init, jax.random.key(0), z)["params"]


def test_names_resolve_against_the_dataset():
  info = pipeline.DatasetInfo(name="toy", label_names=("cat", "dog"), image_shape=(8, 8, 3),
                              split_sizes={}, attribute_names=("Bald", "Eyeglasses", "Smiling"))
  np.testing.assert_array_equal(info.label_indices(["dog", "cat", "dog"]), [1, 0, 1])
  np.testing.assert_array_equal(info.attribute_vector(["Smiling", "Eyeglasses"]), [0, 1, 1])
  with pytest.raises(UserError, match="unknown label.*'cow'.*valid labels: cat, dog"):
    info.label_indices(["cow"])
  with pytest.raises(UserError, match="unknown attribute.*'Hat'.*valid attributes: Bald, Eyeglasses, Smiling"):
    info.attribute_vector(["Smiling", "Hat"])


def test_conditional_grid_has_one_row_per_class_and_fixed_latents_per_column(monkeypatch):
  config = configlib.load_config("cgan_digits")
  captured = {}

  def fake_generate(opts, state, z, y=None):
    captured.update(z=np.asarray(z), y=np.asarray(y))
    return np.zeros((z.shape[0], 16, 16, 1), np.uint8)
  monkeypatch.setattr(gan, "generate_from_latents", fake_generate)
  images, ncols = gan.sample_grid(gan.parse(config), state=None)
  assert ncols == 10 and images.shape[0] == 100
  z, y = captured["z"].reshape(10, 10, -1), captured["y"].reshape(10, 10, 10)
  np.testing.assert_array_equal(z, np.broadcast_to(z[:1], z.shape))  # Same latent down a column.
  np.testing.assert_array_equal(y.argmax(-1), np.repeat(np.arange(10)[:, None], 10, axis=1))


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("cgan"))
  # At 8x8 (the smallest DCGAN), to compile quickly; the classifier takes any size.
  assert main(["train", *CGAN_SMOKE, "--workdir", workdir, "--config.num_steps=2",
               "--config.data.resolution=8"]) == 0
  return workdir


def test_sample_with_labels_and_errors(cgan_run, tmp_path, capsys):
  out = str(tmp_path / "37.png")
  assert main(["sample", "--workdir", cgan_run, "--num", "4", "--labels", "3,7", "--out", out]) == 0
  capsys.readouterr()
  for argv, message in [
      (["--labels", "3,11"], "unknown label(s) '11' for digits; valid labels: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"),
      (["--attributes", "Smiling"], "use --labels, not --attributes"),
  ]:
    assert main(["sample", "--workdir", cgan_run, "--num", "4", "--out", out, *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_eval_reports_conditional_accuracy(cgan_run, capsys):
  assert main(["eval", "--workdir", cgan_run, "--num-samples", "100"]) == 0
  result = json.loads(capsys.readouterr().out.strip())
  assert 0.0 <= result["conditional_accuracy"] <= 1.0 and result["num_samples"] == 100
