import os
import signal

import jax
import numpy as np
import pytest

from aigc_jax import configlib
from aigc_jax.train import gan, loop, writer


def _config(**overrides):
  config = configlib.load_config("dcgan_digits:smoke")
  for k, v in overrides.items():
    configlib.set_value(config, k, v)
  return config


def _leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state))]


def test_same_seed_same_metrics_and_outputs(tmp_path):
  a = loop.train_and_evaluate(_config(), str(tmp_path / "a"), progress=False)
  b = loop.train_and_evaluate(_config(), str(tmp_path / "b"), progress=False)
  assert (tmp_path / "a" / "metrics.jsonl").read_text() == (tmp_path / "b" / "metrics.jsonl").read_text()
  for x, y in zip(_leaves(a), _leaves(b)):
    np.testing.assert_array_equal(x, y)
  c = loop.train_and_evaluate(_config(seed=1), str(tmp_path / "c"), progress=False)
  assert (tmp_path / "a" / "metrics.jsonl").read_text() != (tmp_path / "c" / "metrics.jsonl").read_text()
  for name in ("config.json", "samples/step_0000004.png", "checkpoints/4"):
    assert (tmp_path / "a" / name).exists(), name
  assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "a"))


def test_resume_ends_where_an_uninterrupted_run_ends(tmp_path):
  straight = loop.train_and_evaluate(_config(num_steps=6), str(tmp_path / "straight"), progress=False)
  loop.train_and_evaluate(_config(num_steps=4), str(tmp_path / "resumed"), progress=False)
  resumed = loop.train_and_evaluate(_config(num_steps=6), str(tmp_path / "resumed"), progress=False)
  assert int(resumed.step) == 6
  for x, y in zip(_leaves(straight), _leaves(resumed)):
    np.testing.assert_array_equal(x, y)
  assert ((tmp_path / "straight" / "metrics.jsonl").read_text()
          == (tmp_path / "resumed" / "metrics.jsonl").read_text())


def test_ctrl_c_stops_after_the_step_and_saves(tmp_path, monkeypatch):
  config = _config(num_steps=8, checkpoint_every=100)
  original = gan.TASK.train_batches

  def batches_then_interrupt(config, start):
    for i, batch in enumerate(original(config, start)):
      if start + i == 3:  # While step 3's batch is read, the user presses Ctrl-C.
        os.kill(os.getpid(), signal.SIGINT)
      yield batch
  monkeypatch.setattr(gan, "TASK", gan.TASK._replace(train_batches=batches_then_interrupt))
  state = loop.train_and_evaluate(config, str(tmp_path), progress=False)
  step = int(state.step)
  assert 3 <= step < 8
  assert sorted(os.listdir(tmp_path / "checkpoints")) == [str(step)]


def test_metrics_past_the_checkpoint_are_dropped_on_resume(tmp_path):
  path = tmp_path / "metrics.jsonl"
  path.write_text("".join(f'{{"step": {s}, "d_loss": 1.0}}\n' for s in (2, 4, 6)))
  writer.truncate_metrics(str(path), 4)
  assert [r["step"] for r in writer.read_metrics(str(tmp_path))] == [2, 4]
