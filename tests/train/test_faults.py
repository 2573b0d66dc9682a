"""Fault injection: what real runs meet, and that no work is lost (issue 15).

Each test reproduces one failure (a resume with the wrong config, divergence, signals,
a second trainer, a full disk, a torn log line, bad values) and checks the exit status or
error, the one-line message, what is on disk afterwards, and that the earlier
checkpoint still restores. One tiny GAN run is trained once and copied for each test.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from aigc_jax import configlib, inference
from aigc_jax.cli import main as cli
from aigc_jax.errors import Interrupted, UserError
from aigc_jax.train import checkpoint, loop, workdir as workdir_lib, writer


def _config(spec="dcgan_digits:smoke", **overrides):
  config = configlib.load_config(spec)
  configlib.apply_overrides(config, [f"--config.{k}={v}" for k, v in overrides.items()])
  return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A finished 4-step GAN run (checkpoints at 2 and 4)."""
  workdir = str(tmp_path_factory.mktemp("faults") / "run")
  loop.train_and_evaluate(_config(), workdir, progress=False)
  return workdir


@pytest.fixture
def run_copy(trained, tmp_path):
  workdir = str(tmp_path / "run")
  shutil.copytree(trained, workdir)
  return workdir


def _steps(workdir):
  return sorted(int(s) for s in os.listdir(os.path.join(workdir, "checkpoints")) if s.isdigit())


# ------------------------------------------------------------------------ 1. resume checks

def test_a_failed_resume_writes_nothing(run_copy):
  before = open(os.path.join(run_copy, "config.json")).read()
  with pytest.raises(UserError, match="'gan' run, and this config is a 'vae'"):
    loop.train_and_evaluate(_config("vae_digits:smoke"), run_copy, progress=False)
  with pytest.raises(UserError, match=r"model.g_features \(8 -> 16\)"):
    loop.train_and_evaluate(_config(**{"model.g_features": 16, "num_steps": 6}), run_copy, progress=False)
  assert open(os.path.join(run_copy, "config.json")).read() == before
  assert _steps(run_copy) == [2, 4]


def test_resume_without_config_uses_the_runs_own(run_copy, capsys):
  assert cli.main(["train", "--workdir", run_copy, "--config.num_steps=6"]) == 0
  err = capsys.readouterr().err
  assert "its own config.json" in err and "num_steps 4 -> 6" in err  # A warning names the change.
  assert configlib.config_from_workdir(run_copy).num_steps == 6
  assert _steps(run_copy)[-1] == 6


# ------------------------------------------------------------------------ 2. divergence

def test_divergence_stops_and_keeps_the_last_good_checkpoint(run_copy, capsys):
  with pytest.raises(UserError, match="diverged: non-finite .* by step [56]; the last good checkpoint, step 4"):
    loop.train_and_evaluate(_config(**{"num_steps": 12, "optimizer.g_lr": 1e30, "optimizer.d_lr": 1e30}),
                            run_copy, progress=False)
  assert _steps(run_copy) == [2, 4]  # Nothing non-finite saved, nothing good pruned.
  run = inference.load(run_copy)
  assert int(run.state.step) == 4


def test_eval_and_sample_refuse_a_non_finite_state(run_copy, capsys):
  run = inference.load(run_copy)
  bad = run.state.replace(step=run.state.step + 1,
                          g_params={k: v for k, v in run.state.g_params.items()})
  import jax
  bad = bad.replace(g_params=jax.tree.map(lambda x: x * np.nan, bad.g_params))
  ckpt = checkpoint.Checkpointer(os.path.join(run_copy, "checkpoints"))
  ckpt._manager.save(5, args=__import__("orbax.checkpoint").checkpoint.args.StandardSave(bad))
  ckpt.wait()
  ckpt.close()
  for command in (["eval", "--workdir", run_copy], ["sample", "--workdir", run_copy, "--num", "4",
                                                     "--out", run_copy + "/s.png"]):
    assert cli.main(command) == 2
    assert "non-finite parameters" in capsys.readouterr().err


# ------------------------------------------------------------------------ 3. signals

def _aigc(args, env_extra=None):
  env = dict(os.environ, **(env_extra or {}))
  return subprocess.Popen([sys.executable, "-m", "aigc_jax.cli.main", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_steps(workdir, proc, timeout=240):
  """Waits until the run has logged a record (so it is past start-up and compiling)."""
  path = os.path.join(workdir, "metrics.jsonl")
  deadline = time.time() + timeout
  while time.time() < deadline and proc.poll() is None:
    if os.path.exists(path) and os.path.getsize(path) > 0:
      return
    time.sleep(0.2)
  raise AssertionError(f"no step logged: {proc.communicate()[1][-2000:]}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_once_and_exits_non_zero(tmp_path, signum):
  workdir = str(tmp_path / "run")
  proc = _aigc(["train", "--config", "configs/dcgan_digits.py:smoke", "--workdir", workdir,
                "--config.num_steps=100000", "--config.checkpoint_every=100000", "--config.log_every=1",
                "--config.sample_every=100000"])
  _wait_for_steps(workdir, proc)
  proc.send_signal(signum)
  _, err = proc.communicate(timeout=120)
  assert proc.returncode == 128 + signum, err
  assert "resumable" in err and "Traceback" not in err
  steps = _steps(workdir)
  assert len(steps) == 1 and steps[0] >= 1
  assert not [p for p in os.listdir(os.path.join(workdir, "checkpoints")) if "tmp" in p]


def test_a_second_signal_exits_at_once(tmp_path):
  workdir = str(tmp_path / "run")
  proc = _aigc(["train", "--config", "configs/dcgan_digits.py:smoke", "--workdir", workdir,
                "--config.num_steps=100000", "--config.log_every=1"])
  _wait_for_steps(workdir, proc)
  proc.send_signal(signal.SIGINT)
  proc.send_signal(signal.SIGINT)
  _, err = proc.communicate(timeout=60)
  assert proc.returncode != 0 and "Traceback" not in err


# ------------------------------------------------------------------------ 4. writes and locks

def test_a_second_trainer_is_refused_naming_the_holder(run_copy):
  with workdir_lib.Lock(run_copy):
    with pytest.raises(UserError, match=f"in use by another trainer \\(PID {os.getpid()}\\)"):
      loop.train_and_evaluate(_config(num_steps=6), run_copy, progress=False)
  assert _steps(run_copy) == [2, 4]


def test_a_lock_left_by_a_killed_process_is_taken_over(run_copy):
  code = ("import sys, time; from aigc_jax.train import workdir as w; "
          "l = w.Lock(sys.argv[1]).__enter__(); print('locked', flush=True); time.sleep(60)")
  holder = subprocess.Popen([sys.executable, "-c", code, run_copy], stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == "locked"
  with pytest.raises(UserError, match=f"PID {holder.pid}"):
    workdir_lib.Lock(run_copy).__enter__()
  holder.kill()
  holder.wait()
  with workdir_lib.Lock(run_copy):
    pass


def test_checkpoints_that_is_a_file_is_a_one_line_error(tmp_path):
  (tmp_path / "checkpoints").write_text("not a folder")
  with pytest.raises(UserError, match="is a file, not a folder of checkpoints"):
    loop.train_and_evaluate(_config(), str(tmp_path), progress=False)


def test_a_full_disk_keeps_the_earlier_checkpoints(run_copy, monkeypatch):
  usage = shutil.disk_usage(run_copy)
  monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda path: usage._replace(free=1 << 20))
  with pytest.raises(UserError, match=r"not enough disk space .*\(latest step 4\)"):
    loop.train_and_evaluate(_config(num_steps=6), run_copy, progress=False)
  monkeypatch.undo()
  assert _steps(run_copy) == [2, 4]
  assert not [p for p in os.listdir(os.path.join(run_copy, "checkpoints")) if "tmp" in p]
  assert int(inference.load(run_copy).state.step) == 4


# ------------------------------------------------------------------------ 6. torn log

def test_a_torn_metrics_line_is_dropped_and_the_run_resumes(run_copy, capsys):
  path = os.path.join(run_copy, "metrics.jsonl")
  with open(path, "a") as f:
    f.write('{"step": 6, "d_lo')
  loop.train_and_evaluate(_config(num_steps=6), run_copy, progress=False)
  assert "not a whole record" in capsys.readouterr().err
  assert [r["step"] for r in writer.read_metrics(run_copy)] == [2, 4, 6]


# ------------------------------------------------------------------------ 7. values

@pytest.mark.parametrize("key, value, message", [
    ("num_steps", 0, "num_steps must be at least 1"),
    ("num_steps", -3, "num_steps must be at least 1"),
    ("batch_size", 0, "batch_size must be at least 1"),
    ("log_every", 0, "log_every must be at least 1"),
    ("checkpoint_every", 0, "checkpoint_every must be at least 1"),
    ("num_grid_samples", 0, "num_grid_samples must be at least 1"),
    ("keep_checkpoints", 0, "keep_checkpoints must be at least 1"),
    ("model.latent_dim", 0, "model.latent_dim must be at least 1"),
    ("data.resolution", 7, "data.resolution"),
])
def test_bad_values_are_one_line_errors_at_load(tmp_path, key, value, message):
  with pytest.raises(UserError, match=message):
    loop.train_and_evaluate(_config(**{key: value}), str(tmp_path / "w"), progress=False)
  assert not os.path.exists(tmp_path / "w" / "config.json")


def test_eval_flags_out_of_range_or_for_another_family(trained, capsys):
  assert cli.main(["eval", "--workdir", trained, "--num-samples", "0"]) == 2
  assert "--num-samples must be at least 1" in capsys.readouterr().err
  assert cli.main(["eval", "--workdir", trained, "--iwae-samples", "0"]) == 2
  assert "--iwae-samples must be at least 1" in capsys.readouterr().err
  assert cli.main(["eval", "--workdir", trained, "--mask-type", "center"]) == 2
  assert "--mask-type does not apply to a 'gan' run" in capsys.readouterr().err


# ------------------------------------------------------------------------ 8. 16-bit images

def test_a_16_bit_png_is_scaled_not_clipped(tmp_path):
  from PIL import Image
  from aigc_jax.data import image_folder
  values = np.linspace(0, 65535, 64).reshape(8, 8).astype(np.uint16)
  Image.fromarray(values).save(tmp_path / "deep.png")
  assert Image.open(tmp_path / "deep.png").mode.startswith("I;16")
  image = image_folder.read_image(tmp_path / "deep.png")  # What translate/inpaint/denoise read.
  assert image.shape == (8, 8, 3)
  np.testing.assert_array_equal(image[..., 0], np.round(values * (255 / 65535)).astype(np.uint8))
  assert (image == 255).mean() < 0.05  # PIL's own conversion makes almost every pixel white.
