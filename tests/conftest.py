"""Test-wide settings: a private tfds data folder and a shared XLA compilation cache.

Both are set before JAX or tfds are imported. The compilation cache lets the many tiny
training runs of the suite, which compile the same programs, compile each only once.
"""

import os
import tempfile

_ROOT = os.path.join(tempfile.gettempdir(), f"aigc_jax_tests_{os.getuid()}")
os.environ.setdefault("TFDS_DATA_DIR", os.path.join(_ROOT, "tensorflow_datasets"))
os.environ.setdefault("AIGC_JAX_CACHE_DIR", os.path.join(_ROOT, "xla_cache"))

import jax  # noqa: E402

jax.config.update("jax_compilation_cache_dir", os.environ["AIGC_JAX_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
