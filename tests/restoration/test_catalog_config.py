"""configs/inpaint_celeb_a.py on `tfds.testing.mock_data`: no download, no TensorFlow.

The `tfds_mock` fixture (tests/conftest.py) serves random records for the catalog
dataset, as in tests/gan/test_catalog_configs.py.
"""

import jax
import numpy as np

from aigc_jax import configlib
from aigc_jax.data import restoration_data
from aigc_jax.train import restoration

NUM_EXAMPLES = 8


def test_celeb_a_inpainting_reads_faces_and_steps(tfds_mock):
  config = configlib.load_config("inpaint_celeb_a:smoke")
  assert config.data.name == "celeb_a" and config.data.resolution == 64
  with tfds_mock("celeb_a", NUM_EXAMPLES):
    batch = next(restoration_data.train_batches(config, 0))
    test = restoration_data.test_images(config, 3)
  assert batch["image"].shape == (config.batch_size, 64, 64, 3) and batch["image"].dtype == np.float32
  assert test.shape == (3, 64, 64, 3) and -1 <= test.min() and test.max() <= 1
  # The step fits the config's models (shapes only, without compiling).
  opts = restoration.parse(config)
  state = jax.eval_shape(lambda k: restoration.init_state(opts, k), jax.random.key(0))
  new_state, metrics = jax.eval_shape(restoration.make_train_step(opts), state, batch, jax.random.key(1))
  assert jax.tree.structure(new_state) == jax.tree.structure(state)
  assert {"l1", "g_adv", "d_loss"} <= set(metrics)
