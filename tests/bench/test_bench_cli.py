"""`aigc bench` and scripts/device_bench.sh end to end on tiny sizes: the files and the
keys, never timings."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from aigc_jax.bench import harness
from aigc_jax.bench import steps as bench_steps
from aigc_jax.bench.options import preset
from aigc_jax.cli import main

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "device_bench.sh"


def test_device_bench_tiny_runs_every_row(tmp_path):
  """The contract: `scripts/device_bench.sh --tiny OUT_DIR` on whatever JAX sees (here the
  CPU) writes OUT_DIR/device_bench.json with every row, and its log."""
  pytest.importorskip("pytorch_fid")
  env = dict(os.environ, PYTHON=sys.executable, AIGC_WHEELS=str(tmp_path / "no_wheels"))
  done = subprocess.run(["bash", str(SCRIPT), "--tiny", str(tmp_path / "out")], env=env, capture_output=True,
                        text=True, timeout=900)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  figures = json.loads((tmp_path / "out" / "device_bench.json").read_text())
  assert figures["dtypes"] == ["float32"] and figures["backend"] == jax.default_backend()
  for key in ("matmul_float32_gflops", "matmul_float32_highest_gflops",
              "dcgan_float32_jax_images_per_s", "dcgan_float32_torch_images_per_s", "dcgan_float32_ratio_vs_torch",
              "dcgan_float32_useful_gflops", "dcgan_float32_peak_fraction", "dcgan_float32_first_step_s",
              "inception_jax_images_per_s", "inception_pytorch_fid_images_per_s", "inception_ratio_vs_pytorch_fid",
              "inception_first_batch_s", "inception_xla_gflops", "inception_peak_fraction",
              "cyclegan_float32_jax_images_per_s", "cyclegan_float32_xla_gflops", "cyclegan_float32_first_step_s",
              "vae_float32_jax_images_per_s", "vae_float32_torch_images_per_s", "vae_float32_ratio_vs_torch",
              "vae_float32_peak_fraction", "diffusion_float32_jax_images_per_s", "diffusion_float32_torch_images_per_s",
              "diffusion_float32_ratio_vs_torch", "diffusion_float32_useful_gflops", "diffusion_float32_peak_fraction",
              "diffusion_sample_float32_jax_images_per_s", "diffusion_sample_float32_torch_images_per_s",
              "diffusion_sample_float32_ratio_vs_torch", "diffusion_sample_float32_useful_gflops",
              "diffusion_sample_float32_first_call_s", "diffusion_sample_float32_mean_abs_sample",
              "peak_rss_mib", "load_average_start", "load_average_end"):
    assert isinstance(figures[key], float) and figures[key] > 0, key
  # Both implementations ran the same calibrated weights on the same images.
  assert figures["inception_max_abs_diff"] < 1e-3 * max(1.0, figures["inception_mean_abs_feature"])
  # The two samplers ran the same weights from the same noise.
  assert figures["diffusion_sample_float32_max_abs_diff"] < 1e-3 * figures["diffusion_sample_float32_mean_abs_sample"]
  assert figures["diffusion_sample_float32_network_evaluations"] == 3  # Heun, 2 steps.
  for row in ("dcgan", "vae", "diffusion", "diffusion_sample"):
    if jax.default_backend() == "cpu":  # torch.compile is a row that says why it did not run.
      assert "--torch-compile on" in figures[f"{row}_float32_torch_compile_skipped"]
    else:
      assert f"{row}_float32_torch_compile_images_per_s" in figures
  assert "dcgan_float32_ratio_vs_torch" in (tmp_path / "out" / "device_bench.log").read_text()


def test_only_and_dtypes_pick_what_runs(tmp_path):
  out = tmp_path / "bench.json"
  assert main.main(["bench", "--tiny", "--only", "dcgan", "--no-torch", "--dtypes", "bfloat16",
                    "--json", str(out)]) == 0
  figures = json.loads(out.read_text())
  assert figures["dtypes"] == ["bfloat16"] and figures["options"]["batch"] == 4
  assert figures["dcgan_bfloat16_jax_images_per_s"] > 0 and figures["matmul_bfloat16_gflops"] > 0
  assert not any("float32" in k or k.startswith(("inception", "cyclegan", "vae")) for k in figures)
  assert not any("torch" in k for k in figures)


def test_unknown_rows_and_dtypes_are_one_line_errors(capsys):
  assert main.main(["bench", "--only", "dcgan,gpt"]) == 2
  assert "unknown benchmark rows gpt" in capsys.readouterr().err
  assert main.main(["bench", "--dtypes", "float16"]) == 2
  assert "unknown benchmark dtypes float16" in capsys.readouterr().err


def test_presets_and_overrides():
  assert preset("device").batch == 256 and preset("device").resolution == 64
  assert preset("device").dtypes == ("float32", "bfloat16") and preset("device").inception_images == 10_000
  assert preset("tiny", batch=8).batch == 8 and preset("tiny").rounds == 1
  assert preset("device").diffusion_resolution == 32 and preset("cpu").diffusion_batch == 64


def test_diffusion_bench_config_is_diffusion_digits_at_the_cpu_sizes():
  from aigc_jax import configlib
  from aigc_jax.bench import diffusion
  assert [diffusion.channel_mult(r) for r in (8, 16, 32, 64)] == [(1, 2), (1, 2), (1, 2, 2), (1, 2, 2, 2)]
  got, want = diffusion.diffusion_config(preset("cpu"), "float32"), configlib.load_config("diffusion_digits")
  assert diffusion.architecture(got) == diffusion.architecture(want) and got.batch_size == want.batch_size
  at16 = diffusion.diffusion_config(preset("cpu")._replace(diffusion_resolution=16), "float32")
  assert diffusion.architecture(at16) == diffusion.architecture(configlib.load_config("diffusion_digits:res16"))
  assert got.edm.objective == "edm" and got.edm.p_mean == -1.2  # What the PyTorch reference implements.


def test_a_failing_torch_compile_is_recorded_not_raised():
  pytest.importorskip("torch")
  from aigc_jax.bench import timing
  calls = []

  def make(device, dtype, compile=False):
    calls.append((device, dtype, compile))
    if compile:
      raise RuntimeError("no C++ compiler\nmore detail")
    return timing.Step(lambda: None, lambda: None)
  opts = preset("tiny", torch_compile="on", torch_device="cpu")
  steps, notes = bench_steps.torch_steps(make, opts, "bfloat16", "row_bfloat16", log=lambda *a: None)
  assert list(steps) == ["torch"] and calls == [("cpu", "bfloat16", False), ("cpu", "bfloat16", True)]
  assert notes == {"row_bfloat16_torch_compile_skipped": "RuntimeError: no C++ compiler"}
  steps, notes = bench_steps.torch_steps(make, opts._replace(torch_compile="off"), "float32", "r", log=print)
  assert list(steps) == ["torch"] and notes == {"r_torch_compile_skipped": "--torch-compile off"}
