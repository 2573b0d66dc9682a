"""The rows, dtypes and sizes of `aigc bench` (no JAX import, so the CLI builds its parser fast).

Sizes come in presets (`SIZES`): "cpu" keeps each row small enough for a few-core CPU,
"device" is the accelerator run of docs/benchmarks.md (issue 21's sizes), and "tiny"
runs every row in seconds, only to prove that the code paths work (CI, the device
script's `--tiny`). A size given on the command line overrides its preset's.
"""

from typing import NamedTuple

# In the order they run: the rows measured against a PyTorch reference first, CycleGAN
# (no reference, two ~50 s compilations on a GPU) last, so that a run cut short by the
# device script's time limit keeps the comparisons (on the one H200 lent so far, it cut
# the diffusion rows when CycleGAN came before them).
ROWS = ("dcgan", "inception", "vae", "diffusion", "cyclegan")
DTYPES = ("float32", "bfloat16")
TORCH_COMPILE = ("auto", "on", "off")


class Options(NamedTuple):
  """What `harness.run` measures and at which sizes (defaults: the "cpu" preset)."""
  rows: tuple = ROWS
  # Compute dtypes of the training steps, each measured in turn; the Inception row is
  # always float32 with 'highest' precision (what FID parity needs).
  dtypes: tuple = ("float32",)
  rounds: int = 3  # Interleaved timing rounds.
  per_round: int = 3  # Steps per round of the DCGAN and VAE steps.
  cyclegan_per_round: int = 1  # A CycleGAN step at 128x128 takes seconds on a CPU.
  torch_reference: bool = True
  # torch.compile references: "auto" runs them on a GPU and records them as skipped on a
  # CPU (where Inductor compiles C++ for minutes), "on" always, "off" never.
  torch_compile: str = "auto"
  torch_device: str = ""  # "" picks cuda when PyTorch sees a GPU, else cpu.
  torch_threads: int = 0  # PyTorch's intra-op threads; 0 keeps its default (the cores).
  matmul_size: int = 4096  # Side of the square matrices of the peak FLOP/s figures.
  batch: int = 128  # DCGAN.
  resolution: int = 32
  inception_images: int = 64
  inception_size: int = 64  # Input side; the networks resize to 299.
  inception_batch: int = 32
  cyclegan_size: int = 128
  cyclegan_blocks: int = 6
  cyclegan_features: int = 64  # ngf = ndf.
  vae_batch: int = 128
  # The diffusion U-Net (diffusion_digits' at 8x8 x 1; one level per halving to 8x8, at least two).
  diffusion_batch: int = 64
  diffusion_resolution: int = 8
  diffusion_channels: int = 1
  diffusion_base_channels: int = 32
  diffusion_samples: int = 64  # Drawn per sampling call.
  diffusion_steps: int = 18  # Heun steps: 35 network evaluations.


# The fields each preset sets; everything else keeps Options' default.
SIZES = {
    "cpu": {},
    "device": dict(dtypes=DTYPES, rounds=3, per_round=10, cyclegan_per_round=10, matmul_size=8192, batch=256,
                   resolution=64, inception_images=10_000, inception_batch=250, cyclegan_size=256,
                   cyclegan_blocks=9, diffusion_batch=256, diffusion_resolution=32, diffusion_channels=3,
                   diffusion_base_channels=128, diffusion_samples=1000),
    "tiny": dict(rounds=1, per_round=1, matmul_size=64, batch=4, resolution=8, inception_images=2,
                 inception_size=32, inception_batch=2, cyclegan_size=16, cyclegan_blocks=1,
                 cyclegan_features=4, vae_batch=2, diffusion_batch=2, diffusion_resolution=8,
                 diffusion_base_channels=8, diffusion_samples=2, diffusion_steps=2),
}


def preset(name: str, **overrides) -> Options:
  """Options of the size preset `name`, with `overrides` (fields of Options) on top."""
  return Options()._replace(**{**SIZES[name], **overrides})
