"""configs/inpaint_celeb_a.py on `tfds.testing.mock_data`: no download, no TensorFlow.

As in tests/gan/test_catalog_configs.py, the builder's metadata with two small splits
is written to a temporary data folder first; mock_data then serves random records.
"""

import os

import jax
import numpy as np
import tensorflow_datasets as tfds

from aigc_jax import configlib
from aigc_jax.data import restoration_data
from aigc_jax.train import restoration

NUM_EXAMPLES = 8


def _write_metadata(name, data_dir):
  builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
  splits = [tfds.core.SplitInfo(name=s, shard_lengths=[NUM_EXAMPLES], num_bytes=0, filename_template=None)
            for s in ("train", "test")]
  builder.info.set_splits(tfds.core.SplitDict(splits))
  os.makedirs(builder.data_dir, exist_ok=True)
  builder.info.write_to_directory(builder.data_dir)


def test_celeb_a_inpainting_reads_faces_and_steps(tmp_path):
  config = configlib.load_config("inpaint_celeb_a:smoke")
  assert config.data.name == "celeb_a" and config.data.resolution == 64
  data_dir = str(tmp_path / "tfds")
  config.data.data_dir = data_dir
  _write_metadata("celeb_a", data_dir)
  with tfds.testing.mock_data(num_examples=NUM_EXAMPLES, data_dir=data_dir):
    batch = next(restoration_data.train_batches(config, 0))
    test = restoration_data.test_images(config, 3)
  assert batch["image"].shape == (config.batch_size, 64, 64, 3) and batch["image"].dtype == np.float32
  assert test.shape == (3, 64, 64, 3) and -1 <= test.min() and test.max() <= 1
  # The step fits the config's models (shapes only, without compiling).
  state = jax.eval_shape(lambda k: restoration.init_state(config, k), jax.random.key(0))
  new_state, metrics = jax.eval_shape(restoration.make_train_step(config), state, batch, jax.random.key(1))
  assert jax.tree.structure(new_state) == jax.tree.structure(state)
  assert {"l1", "g_adv", "d_loss"} <= set(metrics)
