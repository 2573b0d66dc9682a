"""The rows and sizes of `aigc bench` (no JAX import, so the CLI can build its parser fast)."""

from typing import NamedTuple

ROWS = ("dcgan", "inception", "cyclegan", "vae")


class Options(NamedTuple):
  """What `run` measures and at which sizes (the defaults are the issue's)."""
  rows: tuple = ROWS
  rounds: int = 3  # Interleaved timing rounds.
  per_round: int = 3  # Steps per round (the CycleGAN step runs once per round).
  compute_dtype: str = "float32"  # Of the JAX training steps: "float32" or "bfloat16".
  torch_reference: bool = True
  torch_device: str = ""  # "" picks cuda when PyTorch sees a GPU, else cpu.
  torch_threads: int = 0  # PyTorch's intra-op threads; 0 keeps its default (the cores).
  matmul_size: int = 4096
  batch: int = 128  # DCGAN.
  resolution: int = 32
  inception_images: int = 64
  inception_size: int = 64  # Input side; the networks resize to 299.
  inception_batch: int = 32
  cyclegan_size: int = 128
  cyclegan_blocks: int = 6
  cyclegan_features: int = 64  # ngf = ndf.
  vae_batch: int = 128
