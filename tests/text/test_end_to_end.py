"""End to end through `aigc`: pre-train the encoders, train the text2img GAN on them,
sample from prompts and evaluate, on the smoke variants."""

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from aigc_jax.cli.main import main


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  root = tmp_path_factory.mktemp("text")
  encoder, gan = str(root / "encoder"), str(root / "gan")
  assert main(["train", "--config", "text_encoder_digits:smoke", "--workdir", encoder]) == 0
  assert main(["train", "--config", "text2img_digits:smoke", "--workdir", gan,
               f"--config.text_encoder_workdir={encoder}"]) == 0
  # The GAN's workdir holds all that sampling needs: the encoder's workdir can go.
  moved = str(root / "encoder_moved")
  shutil.move(encoder, moved)
  return moved, gan


def test_the_runs_keep_the_vocabulary_and_log(runs):
  encoder, gan = runs
  with open(os.path.join(encoder, "config.json")) as f:
    vocab = json.load(f)["tokenizer"]["vocab"]
  assert {"seven", "7", "thick", "upright"} <= set(vocab)
  with open(os.path.join(gan, "config.json")) as f:
    assert json.load(f)["text_encoder"]["tokenizer"]["vocab"] == vocab
  with open(os.path.join(encoder, "metrics.jsonl")) as f:
    assert "loss" in json.loads(f.readline())
  assert os.path.exists(os.path.join(gan, "samples", "step_0000004.png"))


def test_sample_from_prompts_warns_about_unknown_words(runs, tmp_path):
  _, gan = runs
  out = str(tmp_path / "grid.png")
  with pytest.warns(UserWarning, match="'rightward'"):
    assert main(["sample", "--workdir", gan, "--prompt", "a thick seven leaning rightward",
                 "--prompt", "7, thin and upright", "--num", "4", "--out", out]) == 0
  assert np.asarray(Image.open(out)).ndim >= 2
  prompts = tmp_path / "prompts.txt"
  prompts.write_text("a bold two tilted to the left\n\nthree\n")
  out_dir = str(tmp_path / "each")
  assert main(["sample", "--workdir", gan, "--prompts-file", str(prompts), "--num", "3", "--out-dir", out_dir]) == 0
  assert len(os.listdir(out_dir)) == 3


def test_prompts_only_for_text2img_runs(runs, capsys):
  encoder, _ = runs
  assert main(["sample", "--workdir", encoder, "--prompt", "seven", "--num", "2", "--out", "x.png"]) == 2
  assert "text2img" in capsys.readouterr().err


def test_eval_reports_the_text_metrics(runs, capsys):
  _, gan = runs
  assert main(["eval", "--workdir", gan, "--num-samples", "20"]) == 0
  result = json.loads(capsys.readouterr().out.strip())
  for key in ("conditional_accuracy", "thickness_correlation", "slant_correlation", "r_precision",
              "encoder_r_precision", "digits_is", "digits_fid"):
    assert np.isfinite(result[key]), key
  assert 0.0 <= result["r_precision"] <= 1.0
