"""`aigc bench` end to end on tiny sizes: the table and the JSON keys, never timings."""

import json

import pytest

from aigc_jax.cli import main

_TINY = ["--rounds", "1", "--per-round", "1", "--matmul-size", "64", "--batch", "4", "--resolution", "8",
         "--inception-images", "2", "--inception-size", "32", "--inception-batch", "2",
         "--cyclegan-size", "16", "--cyclegan-blocks", "1", "--cyclegan-features", "4", "--vae-batch", "2"]


def test_every_row_on_tiny_sizes_writes_the_figures(tmp_path, capsys):
  pytest.importorskip("pytorch_fid")
  out = tmp_path / "bench.json"
  assert main.main(["bench", *_TINY, "--json", str(out)]) == 0
  figures = json.loads(out.read_text())
  assert figures["compute_dtype"] == "float32"
  for key in ("matmul_gflops", "dcgan_jax_images_per_s", "dcgan_torch_images_per_s", "dcgan_ratio_vs_torch",
              "dcgan_useful_gflops", "dcgan_peak_fraction", "dcgan_first_step_s",
              "inception_jax_images_per_s", "inception_pytorch_fid_images_per_s",
              "inception_ratio_vs_pytorch_fid", "inception_first_batch_s",
              "cyclegan_jax_images_per_s", "cyclegan_first_step_s",
              "vae_jax_images_per_s", "vae_torch_images_per_s", "vae_ratio_vs_torch", "vae_first_step_s",
              "peak_rss_mib", "load_average_start", "load_average_end"):
    assert isinstance(figures[key], float) and figures[key] > 0, key
  assert "dcgan_ratio_vs_torch" in capsys.readouterr().out


def test_only_picks_rows_and_dtype_reaches_the_steps(tmp_path):
  out = tmp_path / "bench.json"
  assert main.main(["bench", *_TINY, "--only", "vae", "--no-torch", "--dtype", "bfloat16", "--json", str(out)]) == 0
  figures = json.loads(out.read_text())
  assert figures["compute_dtype"] == "bfloat16"
  assert "vae_jax_images_per_s" in figures and "vae_torch_images_per_s" not in figures
  assert not any(k.startswith(("dcgan", "inception", "cyclegan")) for k in figures)


def test_unknown_row_is_a_one_line_error(capsys):
  assert main.main(["bench", "--only", "dcgan,gpt"]) == 2
  assert "unknown benchmark rows gpt" in capsys.readouterr().err
