"""Checks, runnable on a CPU, of what the accelerator paths rely on."""

import re

import jax
import jax.numpy as jnp
import pytest

from aigc_jax.bench import inception as bench_inception
from aigc_jax.metrics import inception


def test_inception_asks_for_highest_precision_in_every_product():
  # On GPUs the default precision of a float32 convolution or matrix product is TF32,
  # which moves the features at the 1e-3 level; FID parity needs full float32.
  variables = jax.eval_shape(lambda: inception.init_variables(0))
  images = jax.ShapeDtypeStruct((1, 64, 64, 3), jnp.uint8)
  text = inception._preprocess.lower(images).as_text()
  text += inception._network.lower(variables, jax.ShapeDtypeStruct((1, 299, 299, 3), jnp.float32)).as_text()
  products = re.findall(r"stablehlo\.(?:convolution|dot_general)[^\n]*", text)
  assert len(products) == 95  # 94 convolutions and the fc layer; the resize is gathers.
  assert all(p.count("HIGHEST") == 2 for p in products)


def test_torch_reference_runs_in_full_float32_and_restores_the_settings():
  torch = pytest.importorskip("torch")
  pytest.importorskip("pytorch_fid")
  from aigc_jax.bench import torch_inception
  before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
  with torch_inception.full_float32():
    assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
  assert (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32) == before


def test_metrics_keeps_its_name_for_the_inception_bench():
  import aigc_jax.metrics as metrics
  assert metrics.inception_images_per_second is bench_inception.inception_images_per_second
