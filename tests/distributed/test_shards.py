"""Each process's part of a global batch, and the flags that join a run (in-process,
no second process): the union over P processes of their batches i is, row for row,
the batch one process reads."""

import numpy as np
import pytest

from aigc_jax import configlib, distributed
from aigc_jax.data import cyclegan_data, paired, pipeline
from aigc_jax.errors import UserError


def _rows(batches):
  return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


@pytest.mark.parametrize("count", [2, 4])
def test_digits_global_batches_do_not_depend_on_the_process_count(count):
  data = configlib.load_config("dcgan_digits:smoke").data
  one = pipeline.make_dataset(data, "train", batch_size=8, train=True, seed=3, process_index=0, process_count=1)
  parts = [pipeline.make_dataset(data, "train", batch_size=8, train=True, seed=3, process_index=p,
                                 process_count=count) for p in range(count)]
  for step in (0, 1, 180, 181):  # 1437 images: steps 179 and on cross into the second epoch.
    whole = one[step]
    joined = _rows([part[step] for part in parts])
    assert all(len(part[step]["image"]) == 8 // count for part in parts)
    for key in whole:
      np.testing.assert_array_equal(joined[key], whole[key])


def test_cyclegan_and_paired_global_batches_do_not_depend_on_the_process_count():
  config = configlib.load_config("cyclegan_photos:smoke")
  config.batch_size = 4
  one = next(cyclegan_data.train_batches(config, 3, 0, 1))
  two = [next(cyclegan_data.train_batches(config, 3, p, 2)) for p in range(2)]
  for domain in ("A", "B"):
    np.testing.assert_array_equal(np.concatenate([t[domain] for t in two]), one[domain])
  data = configlib.load_config("pix2pix_digits:smoke").data
  one = next(paired.train_batches(data, batch_size=4, seed=1, start_step=2, process_index=0, process_count=1))
  two = [next(paired.train_batches(data, batch_size=4, seed=1, start_step=2, process_index=p, process_count=2))
         for p in range(2)]
  for key in one:
    np.testing.assert_array_equal(np.concatenate([t[key] for t in two]), one[key])


def test_a_batch_that_does_not_split_over_the_processes_is_one_line():
  data = configlib.load_config("dcgan_digits:smoke").data
  with pytest.raises(UserError, match="not divisible by the 3 processes"):
    pipeline.make_dataset(data, "train", batch_size=8, train=True, process_index=0, process_count=3)


def test_settings_from_flags_and_environment():
  assert distributed.settings(environ={}) is None  # Nothing set: alone, as before.
  env = {"AIGC_COORDINATOR": "10.0.0.1:1234", "AIGC_NUM_PROCESSES": "4", "AIGC_PROCESS_ID": "3"}
  s = distributed.settings(environ=env)
  assert (s.coordinator, s.num_processes, s.process_id, s.auto) == ("10.0.0.1:1234", 4, 3, False)
  assert s.peer_timeout == distributed.DEFAULT_PEER_TIMEOUT
  s = distributed.settings(process_id=1, peer_timeout=7, environ=env)  # A flag wins.
  assert (s.process_id, s.peer_timeout) == (1, 7)
  s = distributed.settings(mode="auto", environ={})
  assert s.auto and s.coordinator is None
  assert distributed.settings(environ={"AIGC_DISTRIBUTED": "auto"}).auto


@pytest.mark.parametrize("kwargs, message", [
    (dict(coordinator="h:1"), "missing --num-processes, --process-id"),
    (dict(coordinator="host", num_processes=2, process_id=0), "HOST:PORT"),
    (dict(coordinator="h:1", num_processes=2, process_id=2), r"--process-id must be in 0\.\.1"),
    (dict(coordinator="h:1", num_processes=0, process_id=0), "--num-processes must be at least 1"),
    (dict(mode="on"), "--distributed must be one of off, auto"),
    (dict(mode="auto", peer_timeout=0), "--peer-timeout must be at least 1"),
])
def test_bad_settings_are_one_line(kwargs, message):
  with pytest.raises(UserError, match=message):
    distributed.settings(environ={}, **kwargs)


def test_alone_nothing_is_joined():
  assert distributed.initialize(None) == (0, 1)
  assert not distributed.is_multiprocess() and distributed.is_main()
  assert distributed.agree(True) and not distributed.agree(False)
  with pytest.raises(UserError, match="held"):
    distributed.broadcast_error("held")
  distributed.broadcast_error(None)


def test_process_ranges_cover_every_item_once(monkeypatch):
  import jax
  monkeypatch.setattr(jax, "process_count", lambda: 3)
  ranges = []
  for i in range(3):
    monkeypatch.setattr(jax, "process_index", lambda i=i: i)
    ranges.append(distributed.process_range(10))
  assert ranges == [(0, 4), (4, 7), (7, 10)]


def test_sum_over_processes_alone_keeps_float64():
  x = np.asarray([1e-17, 1.0], np.float64)
  np.testing.assert_array_equal(distributed.sum_over_processes(x), x)


def test_alone_concat_and_local_copy_are_the_inputs():
  x = np.arange(6, dtype=np.float64).reshape(3, 2)
  np.testing.assert_array_equal(distributed.concat_over_processes(x), x)
  tree = {"w": np.ones(2)}
  assert distributed.local_copy(tree) is tree


def test_a_failed_collective_is_told_from_a_bug():
  import jax
  gloo = ValueError("UNKNOWN: Gloo AllGather failed: [pair.cc:547] Connection closed by peer")
  assert distributed._runtime_failure(gloo)
  assert distributed._runtime_failure(jax.errors.JaxRuntimeError("INTERNAL: x"))
  assert not distributed._runtime_failure(ValueError("could not broadcast shapes"))
  assert not distributed._runtime_failure(KeyError("UNKNOWN"))


@pytest.mark.parametrize("command", [["train", "--config", "dcgan_digits:smoke"], ["eval", "--workdir", "w"],
                                     ["stats", "--data", "digits", "--out", "o.npz"]])
def test_commands_take_the_flags_and_refuse_half_a_set(command, capsys):
  from aigc_jax.cli import main
  assert main.main([*command, "--coordinator", "h:1", "--num-processes", "2"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "missing --process-id" in err[0]
