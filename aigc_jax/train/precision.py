"""Mixed precision: the dtype the networks compute in, from the config's `compute_dtype`.

"float32" (the default) computes everything in float32. "bfloat16" runs the networks'
convolutions, matrix products and activations in bfloat16 (Flax's `dtype=`), which
halves memory traffic and uses the bf16 units of GPUs and TPUs, while the parameters,
the optimizer state and the normalisation statistics stay float32 (`param_dtype`) and
the networks' outputs (images, logits, pixel-model parameters) come back as float32, so
that the losses, their gradients and the updates are float32 computations. On a CPU
without bf16 matrix units it is usually slower (`aigc bench --dtype bfloat16` measures).
"""

import jax.numpy as jnp

# config.compute_dtype -> the dtype passed to the models.
COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(name: str):
  """The models' computation dtype named by the config's `compute_dtype` (checked at load)."""
  return COMPUTE_DTYPES[name]
