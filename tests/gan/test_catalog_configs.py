"""The catalog-dataset configs on `tfds.testing.mock_data`: no download, no TensorFlow.

The `tfds_mock` fixture (tests/conftest.py) writes each catalog builder's metadata with
two small splits into a temporary data folder, then serves random records. The batches are checked against what each
config's model takes (through `jax.eval_shape`, without compiling), and the
attribute-conditional celeb_a config is sampled by attribute names through `aigc`.
"""

import os

import jax
import numpy as np
import pytest

from aigc_jax import configlib
from aigc_jax.cli.main import main
from aigc_jax.data import pipeline
from aigc_jax.train import checkpoint, gan, loop, sharding, workdir as workdir_lib

NUM_EXAMPLES = 16
CONFIGS = {
    "dcgan_mnist": ("mnist", (32, 32, 1)),
    "dcgan_fashion_mnist": ("fashion_mnist", (32, 32, 1)),
    "dcgan_cifar10": ("cifar10", (32, 32, 3)),
    "cgan_celeb_a": ("celeb_a", (64, 64, 3)),
}


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_config_batches_fit_its_model(config_name, tfds_mock):
  dataset, shape = CONFIGS[config_name]
  config = configlib.load_config(f"{config_name}:smoke")
  assert config.data.name == dataset
  with tfds_mock(dataset, NUM_EXAMPLES):
    batch = pipeline.make_dataset(config.data, "train", batch_size=config.batch_size, train=True)[0]
    info = pipeline.dataset_info(config.data)
  assert batch["image"].shape == (config.batch_size, *shape) and batch["image"].dtype == np.float32
  assert -1.0 <= batch["image"].min() and batch["image"].max() <= 1.0
  if config.model.conditioning == "attributes":
    assert len(info.attribute_names) == config.model.num_attributes == 40
    assert list(info.attribute_names) == sorted(info.attribute_names)
    assert batch["attributes"].shape == (config.batch_size, 40)
    assert set(np.unique(batch["attributes"])) <= {0.0, 1.0}
  opts = gan.parse(config)
  state = jax.eval_shape(lambda k: gan.init_state(opts, k), jax.random.key(0))
  new_state, metrics = jax.eval_shape(gan.make_train_step(opts), state, batch, jax.random.key(1))
  assert jax.tree.structure(new_state) == jax.tree.structure(state)
  assert {"d_loss", "g_loss"} <= set(metrics)


def test_attribute_order_is_sorted_names():
  vector = pipeline.multi_hot({"Smiling": True, "Bald": False, "Eyeglasses": True})
  np.testing.assert_array_equal(vector, [0.0, 1.0, 1.0])  # Bald, Eyeglasses, Smiling.


def test_celeb_a_samples_by_attribute_names(tfds_mock, tmp_path, capsys):
  # A workdir holding the initial state (training is checked above through eval_shape,
  # and run for real for class conditioning in test_train_options), at 8x8 to compile
  # quickly.
  config = configlib.load_config("cgan_celeb_a:smoke")
  config.data.resolution = 8
  workdir = str(tmp_path / "run")
  out = str(tmp_path / "smiling.png")
  with tfds_mock("celeb_a", NUM_EXAMPLES):
    workdir_lib.prepare(workdir)
    workdir_lib.save_config(config, workdir)
    opts = gan.parse(config)
    state = loop.init_state(gan.TASK, opts, sharding.make_mesh())  # As `aigc sample` makes it.
    ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"))
    ckpt.save(0, state)
    ckpt.wait()
    ckpt.close()
    # The grid: one row per attribute vector of the first training images, fixed latents.
    grid, ncols = gan.sample_grid(opts, state)
    assert grid.shape == (4, 8, 8, 3) and ncols == 2
    assert main(["sample", "--workdir", workdir, "--num", "4", "--attributes", "Smiling,Eyeglasses",
                 "--out", out]) == 0
    assert os.path.exists(out)
    capsys.readouterr()
    assert main(["sample", "--workdir", workdir, "--num", "4", "--attributes", "Smiling,Monocle",
                 "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown attribute(s) 'Monocle' for celeb_a; valid attributes: 5_o_Clock_Shadow" in err, err
    assert "Young" in err and len(err.splitlines()) == 1
    assert main(["sample", "--workdir", workdir, "--num", "4", "--out", out]) == 0  # Real attribute vectors.
