"""End to end through `aigc` on the tiny diffusion config: train, checkpoint, resume (bit
for bit the uninterrupted run), sample with --steps/--guidance/--labels, eval with
--steps, and the flags that belong to other families refused in one line."""

import json
import os

import jax
import ml_collections
import numpy as np
import pytest
from PIL import Image

from aigc_jax import configlib, evaluation, inference
from aigc_jax.cli.main import main
from aigc_jax.errors import UserError
from aigc_jax.train import diffusion

SMOKE = ["--config", "diffusion_digits:smoke"]
# Every sampling call here draws 20 samples (one chunk of 20), as the run's grid does (10
# classes x 2 columns), and the grid's 3 steps at guidance 1 are reused: one sampler
# program compiled for both, one more for guidance 2. (20: the intra-class FID of
# `aigc eval` needs 2 samples of each class.)
NUM = 20


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """(a 4-step run, the same run stopped at step 2 and resumed to 4)."""
  full, part = (str(tmp_path_factory.mktemp(name)) for name in ("full", "part"))
  assert main(["train", *SMOKE, "--workdir", full]) == 0
  assert main(["train", *SMOKE, "--config.num_steps=2", "--workdir", part]) == 0
  assert main(["train", *SMOKE, "--workdir", part]) == 0  # Resumes from step 2.
  return full, part


def _error(capsys, argv):
  code = main(argv)
  return code, capsys.readouterr().err.strip()


def test_resume_is_bit_equal_to_the_uninterrupted_run(runs):
  full, part = (inference.load(w) for w in runs)
  assert int(full.state.step) == int(part.state.step) == 4
  for a, b in zip(jax.tree.leaves(full.state), jax.tree.leaves(part.state)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  lines = [open(os.path.join(w, "metrics.jsonl")).read() for w in runs]
  assert lines[0] == lines[1] and '"step": 4' in lines[0]
  assert os.path.exists(os.path.join(runs[0], "samples", "step_0000004.png"))


def test_sample_with_steps_guidance_and_labels(runs, tmp_path):
  out = str(tmp_path / "37.png")
  argv = ["sample", "--workdir", runs[0], "--steps", "3", "--guidance", "2", "--labels", "3,7", "--num", str(NUM)]
  assert main([*argv, "--out", out]) == 0
  assert np.asarray(Image.open(out)).shape[:2] == ((4 * 10 + 2) * 8, (5 * 10 + 2) * 8)  # 4x5 grid of 8x8, x8.
  run = inference.load(runs[0])
  key = jax.random.key(0)
  a = inference.sample(run, key, NUM, labels=["3"], steps=3, guidance=2.0)
  assert a.dtype == np.uint8 and a.shape == (NUM, 8, 8, 1)
  np.testing.assert_array_equal(a, inference.sample(run, key, NUM, labels=["3"], steps=3, guidance=2.0))
  # After 4 steps the class barely moves the output (the output conv starts at zero), so
  # the guidance scales are told apart on randomly perturbed weights.
  leaves, tree = jax.tree.flatten(run.state.ema_params)
  noisy = [x + 0.3 * jax.random.normal(jax.random.key(i), x.shape) for i, x in enumerate(leaves)]
  run = run._replace(state=run.state.replace(ema_params=jax.tree.unflatten(tree, noisy)))
  draw = lambda g: inference.sample(run, key, NUM, labels=["3"], steps=3, guidance=g)
  assert not np.array_equal(draw(2.0), draw(1.0))


def test_eval_reports_digits_metrics_at_the_given_steps(runs, capsys):
  assert main(["eval", "--workdir", runs[0], "--steps", "3", "--num-samples", str(NUM)]) == 0
  result = json.loads(capsys.readouterr().out.strip())
  for key in ("digits_is", "digits_fid", "conditional_accuracy", "real_digits_fid"):
    assert key in result, key
  assert result["steps"] == 3 and result["nfe"] == 5 and result["guidance"] == 1.0
  assert result["num_samples"] == NUM and result["step"] == 4


def test_flags_of_other_families_are_refused(runs, capsys):
  code, err = _error(capsys, ["eval", "--workdir", runs[0], "--iwae-samples", "4"])
  assert code == 2 and "--iwae-samples does not apply to a 'diffusion' run" in err and len(err.splitlines()) == 1
  code, err = _error(capsys, ["sample", "--workdir", runs[0], "--steps", "0", "--out", "x.png"])
  assert code == 2 and "--steps must be at least 1" in err
  gan_run = inference.Run("w", ml_collections.ConfigDict({"task": "gan"}), None, None, None)
  with pytest.raises(UserError, match="--steps does not apply to a 'gan' run"):
    evaluation.evaluate(gan_run, steps=18)
  with pytest.raises(UserError, match="--guidance does not apply to a 'gan' run"):
    inference.sample(gan_run, jax.random.key(0), 4, guidance=2.0)
  uncond = diffusion.parse(configlib.load_config("diffusion_digits:uncond+smoke"))
  with pytest.raises(UserError, match="unconditional; --guidance"):
    diffusion.sampler_settings(uncond, guidance=2.0)
  assert diffusion.sampler_settings(uncond, steps=5) == (5, None, "heun")
