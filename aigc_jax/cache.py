"""The persistent XLA compilation cache that `aigc` turns on, as one library call."""

import os


def enable_compilation_cache(path: str | None = None):
  """Keeps compiled XLA programs on disk, so a second run of a config starts at once.

  The folder is `path`, else `$AIGC_JAX_CACHE_DIR` (empty to disable), else
  ~/.cache/aigc_jax/xla. Compiling is the larger part of a short run on a CPU (random
  number kernels alone take seconds), so this matters for resumes, `sample` and `eval`.
  Programs that compile in under 0.5 s are not kept, unless
  $JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS says otherwise (the test suite sets 0, so
  the many processes it starts compile each small program once).
  Returns the folder, or None when disabled.
  """
  if path is None:
    path = os.environ.get("AIGC_JAX_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "aigc_jax", "xla"))
  if not path:
    return None
  import jax
  if jax.config.jax_compilation_cache_dir == path:
    return path  # Already on (a test suite may have set its own threshold): leave it.
  jax.config.update("jax_compilation_cache_dir", path)
  if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:  # JAX's own variable wins.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
  return path
