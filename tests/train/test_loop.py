"""The generic loop: reproducibility, resume, Ctrl-C and window-mean logging."""

import json
import os
import signal

import jax
import numpy as np
import pytest

from aigc_jax import configlib
from aigc_jax.errors import Interrupted
from aigc_jax.train import gan, keys, loop, sharding, writer


def _config(**overrides):
  config = configlib.load_config("dcgan_digits:smoke")
  for k, v in overrides.items():
    configlib.set_value(config, k, v)
  return config


def _leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state))]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
  """(workdir, final state) of the smoke config, shared by the tests that read a run."""
  workdir = tmp_path_factory.mktemp("a")
  return workdir, loop.train_and_evaluate(_config(), str(workdir), progress=False)


def test_same_seed_same_metrics_and_outputs(smoke_run, tmp_path):
  a_dir, a = smoke_run
  b = loop.train_and_evaluate(_config(), str(tmp_path / "b"), progress=False)
  assert (a_dir / "metrics.jsonl").read_text() == (tmp_path / "b" / "metrics.jsonl").read_text()
  for x, y in zip(_leaves(a), _leaves(b), strict=True):
    np.testing.assert_array_equal(x, y)
  c = loop.train_and_evaluate(_config(seed=1), str(tmp_path / "c"), progress=False)
  assert (a_dir / "metrics.jsonl").read_text() != (tmp_path / "c" / "metrics.jsonl").read_text()
  for name in ("config.json", "samples/step_0000004.png", "checkpoints/4"):
    assert (a_dir / name).exists(), name
  assert any(f.startswith("events.out.tfevents") for f in os.listdir(a_dir))


def test_logged_scalars_are_the_means_over_the_logging_window(smoke_run):
  # The same steps replayed by hand (the loop's keys and batches): each record of the
  # run's metrics.jsonl is the mean of the steps since the previous record.
  a_dir, _ = smoke_run
  config = _config()
  opts, mesh = gan.parse(config), sharding.make_mesh()
  state = loop.init_state(gan.TASK, opts, mesh)
  step_fn = loop.compile_train_step(gan.TASK, opts, mesh)
  batches = gan.TASK.train_batches(opts, 0)
  per_step = []
  for s in range(opts.run.num_steps):
    batch = sharding.shard_batch(next(batches), mesh)
    state, metrics = step_fn(state, batch, jax.random.fold_in(keys.stream_key(opts.run.seed, "step"), s))
    per_step.append({k: float(v) for k, v in jax.device_get(metrics).items()})
  records = [json.loads(line) for line in (a_dir / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records] == [2, 4]
  for record in records:
    window = per_step[record["step"] - opts.run.log_every:record["step"]]
    for name in per_step[0]:
      np.testing.assert_allclose(record[name], np.mean([m[name] for m in window]), rtol=1e-5, err_msg=name)
  # Not the last step's value (the two steps of a window differ).
  assert any(records[0][name] != per_step[1][name] for name in per_step[0])


def test_resume_ends_where_an_uninterrupted_run_ends(tmp_path):
  straight = loop.train_and_evaluate(_config(num_steps=6), str(tmp_path / "straight"), progress=False)
  loop.train_and_evaluate(_config(num_steps=4), str(tmp_path / "resumed"), progress=False)
  resumed = loop.train_and_evaluate(_config(num_steps=6), str(tmp_path / "resumed"), progress=False)
  assert int(resumed.step) == 6
  for x, y in zip(_leaves(straight), _leaves(resumed), strict=True):
    np.testing.assert_array_equal(x, y)
  assert ((tmp_path / "straight" / "metrics.jsonl").read_text()
          == (tmp_path / "resumed" / "metrics.jsonl").read_text())


def test_ctrl_c_stops_after_the_step_and_saves(tmp_path, monkeypatch):
  config = _config(num_steps=8, checkpoint_every=100)
  original = gan.TASK.train_batches

  def batches_then_interrupt(opts, start):
    for i, batch in enumerate(original(opts, start)):
      if start + i == 3:  # While step 3's batch is read, the user presses Ctrl-C.
        os.kill(os.getpid(), signal.SIGINT)
      yield batch
  monkeypatch.setattr(gan, "TASK", gan.TASK._replace(train_batches=batches_then_interrupt))
  with pytest.raises(Interrupted, match="resumable") as stopped:
    loop.train_and_evaluate(config, str(tmp_path), progress=False)
  assert stopped.value.signum == signal.SIGINT
  (saved,) = os.listdir(tmp_path / "checkpoints")  # One checkpoint, of the step it stopped after.
  assert 3 <= int(saved) < 8
  assert f"at step {saved} of 8" in str(stopped.value)


def test_metrics_past_the_checkpoint_are_dropped_on_resume(tmp_path):
  path = tmp_path / "metrics.jsonl"
  path.write_text("".join(f'{{"step": {s}, "d_loss": 1.0}}\n' for s in (2, 4, 6)))
  writer.truncate_metrics(str(path), 4)
  assert [r["step"] for r in writer.read_metrics(str(tmp_path))] == [2, 4]
