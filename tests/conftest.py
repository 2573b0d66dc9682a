"""Test-wide settings: a private tfds data folder, a shared XLA compilation cache, and
aigc_jax's XLA:CPU flags (aigc_jax/cpu_flags.py), so tests run what `aigc` runs.

All are set before JAX or tfds are imported. The compilation cache lets the many tiny
training runs of the suite, which compile the same programs, compile each only once.
"""

import os
import tempfile

_ROOT = os.path.join(tempfile.gettempdir(), f"aigc_jax_tests_{os.getuid()}")
os.environ.setdefault("TFDS_DATA_DIR", os.path.join(_ROOT, "tensorflow_datasets"))
os.environ.setdefault("AIGC_JAX_CACHE_DIR", os.path.join(_ROOT, "xla_cache"))
# Every program, however quick to compile, in the processes the tests start too.
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import aigc_jax  # noqa: E402  (first: it sets XLA_FLAGS before JAX starts, as in `aigc`)
import jax  # noqa: E402
import pytest  # noqa: E402

aigc_jax.enable_compilation_cache(os.environ["AIGC_JAX_CACHE_DIR"])  # The library call `aigc` makes.
# Every program, however quick to compile: the suite compiles the same small ones many times.
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


@pytest.fixture
def tfds_mock(tmp_path):
  """`with tfds_mock(name, num_examples=16):` catalog dataset `name` serves random records.

  `tfds.testing.mock_data` replaces the records but reads the dataset's metadata (its
  splits) from files, so this first writes the catalog builder's metadata with small
  "train" and "test" splits into a temporary data folder: no download, no TensorFlow.
  """
  import tensorflow_datasets as tfds
  data_dir = str(tmp_path / "tfds")

  def enter(name, num_examples=16):
    builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
    splits = [tfds.core.SplitInfo(name=s, shard_lengths=[num_examples], num_bytes=0, filename_template=None)
              for s in ("train", "test")]
    builder.info.set_splits(tfds.core.SplitDict(splits))
    os.makedirs(builder.data_dir, exist_ok=True)
    builder.info.write_to_directory(builder.data_dir)
    return tfds.testing.mock_data(num_examples=num_examples, data_dir=data_dir)
  return enter
