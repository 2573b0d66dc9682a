"""The catalog configs (mnist, binarized_mnist, cifar10) on `tfds.testing.mock_data`.

No TensorFlow is needed: the data sources are mocked array_record readers. The datasets
are not downloaded here, so each test first writes a `dataset_info.json` with the
splits, as the mock's "use files" policy expects; the pipeline then sees a prepared
dataset of random examples.
"""

import os

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from aigc_jax import configlib, inference
from aigc_jax.evaluation import vae as vae_evaluation
from aigc_jax.train import loop, vae

NUM_EXAMPLES = 8


def _fake_prepare(name, data_dir):
  builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
  builder.info.set_splits(tfds.core.SplitDict([
      tfds.core.SplitInfo(name=split, shard_lengths=[NUM_EXAMPLES], num_bytes=0, filename_template=None)
      for split in ("train", "test")]))
  os.makedirs(builder.data_dir, exist_ok=True)
  builder.info.write_to_directory(builder.data_dir)


def _mocked_config(name, tmp_path):
  config = configlib.load_config(f"{name}:smoke")
  config.data.data_dir = str(tmp_path / "tfds")
  _fake_prepare(config.data.name, config.data.data_dir)
  return config


@pytest.mark.parametrize("name,shape,has_label", [
    ("vae_mnist", (28, 28, 1), True),
    ("vae_binarized_mnist", (28, 28, 1), False),
    ("vae_cifar10", (32, 32, 3), True),
])
def test_catalog_config_builds_a_batch_and_a_step(name, shape, has_label, tmp_path):
  with tfds.testing.mock_data(num_examples=NUM_EXAMPLES):
    config = _mocked_config(name, tmp_path)
    opts = vae.parse(config)
    batches = vae.train_batches(opts, 0)
    batch = next(batches)
    batches.close()  # Stops the prefetch thread.
  assert batch["image"].shape == (config.batch_size, *shape) and batch["image"].dtype == np.float32
  assert -1.0 <= batch["image"].min() and batch["image"].max() <= 1.0
  assert ("label" in batch) == has_label
  # The model, loss and optimizer fit the data: trace (not compile) one train step.
  state = jax.eval_shape(lambda k: vae.init_state(opts, k), jax.random.key(0))
  _, metrics = jax.eval_shape(vae.make_train_step(opts), state, batch, jax.random.key(1))
  assert set(metrics) == {"loss", "nelbo", "recon", "kl"}


def test_binarized_mnist_trains_and_evaluates_on_mock_data(tmp_path):
  with tfds.testing.mock_data(num_examples=NUM_EXAMPLES):
    config = _mocked_config("vae_binarized_mnist", tmp_path)
    state = loop.train_and_evaluate(config, str(tmp_path / "run"), progress=False)
    run = inference.Run(str(tmp_path / "run"), config, vae.parse(config), vae.TASK, state)
    bounds = vae_evaluation.test_bounds(run)
  assert int(state.step) == config.num_steps
  assert bounds["test_images"] == NUM_EXAMPLES and bounds["iwae_samples"] == config.eval.iwae_samples
  # Bernoulli over 784 pixels: an untrained model is near 784 * log 2 nats.
  assert 0 < bounds["test_iwae_nll"] <= bounds["test_nelbo"] < 2 * 784 * np.log(2)
