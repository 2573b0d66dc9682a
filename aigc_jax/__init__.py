"""aigc_jax: image generative models in JAX/Flax, built for speed and honest measurement.

Subpackages: `models` (Flax modules only), `data` (datasets and input pipelines),
`train` (train steps, the generic loop, checkpoints), `metrics` (FID / IS / KID),
`evaluation` (task-level evaluators), `cli` (the `aigc` command).
"""

__version__ = "0.1.0"

from aigc_jax import cpu_flags as _cpu_flags

_cpu_flags.apply()  # Before JAX starts its backend; see aigc_jax/cpu_flags.py.
