"""What the PyTorch references share: mixed precision, torch.compile and device sync.

The references mirror the library's recipes: in "bfloat16" the networks run under
`torch.autocast` (bf16 convolutions and matrix products, float32 parameters, optimizer
state and losses), as `config.compute_dtype` does for the JAX steps; `compile` wraps
each network in `torch.compile` (Inductor), the optimizer and loss stay eager.
"""

import contextlib

from aigc_jax.bench.timing import Step


def autocast(device: str, dtype: str):
  """The context the forward passes run in: autocast to bf16, or nothing for float32."""
  import torch
  if dtype == "float32":
    return contextlib.nullcontext()
  if dtype != "bfloat16":
    raise ValueError(f"dtype must be float32 or bfloat16, got {dtype!r}")
  return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def maybe_compile(module, compile: bool):
  import torch
  return torch.compile(module) if compile else module


def step(run, device: str) -> Step:
  """A timing.Step of `run` (one update, dispatched) that waits for `device`'s queue."""
  import torch
  if torch.device(device).type == "cuda":
    return Step(run, torch.cuda.synchronize)
  return Step(run, lambda: None)  # On the CPU PyTorch runs each operation to completion.
