"""Several `aigc` processes on loopback (gloo) against one process with as many devices.

2 processes x 2 devices and 1 process x 4 devices read the same global batches and run
the same programs, so they must end with the same parameters (to float rounding: the
all-reduces add in another order) and log the same metrics; a checkpoint written by one
count resumes under the other; `aigc eval` (the GAN's; the VAE's, its Inception
metrics included) and `aigc stats` report the same figures; a killed peer stops the
survivor with one line within the peer timeout, a killed process 0 with one line last;
a signal to one process stops both with one checkpoint.
"""

import glob
import json
import os
import shutil
import signal
import sys
import time

import jax
import numpy as np
import pytest

from aigc_jax import configlib
from aigc_jax.train import checkpoint, loop, sharding, writer
from aigc_jax.train.task import parse_config

sys.path.insert(0, os.path.dirname(__file__))
import aigc_processes as procs  # noqa: E402

GAN = ["train", "--config", "dcgan_digits:smoke"]
VAE = ["train", "--config", "vae_digits:smoke"]
# `aigc` with a stand-in Inception network (see there).
FAKE = (os.path.join(os.path.dirname(__file__), "fake_inception_cli.py"),)
# A process that joins the run (through the AIGC_* variables) and then all-gathers a
# number every 0.2 s until it is stopped, printing "joined" first.
JOINED = ("-c", """
import time
import numpy as np
from aigc_jax import distributed
distributed.initialize(distributed.settings())
from jax.experimental import multihost_utils
with distributed.exit_together("wait"):
  multihost_utils.process_allgather(np.ones(1))
  print("joined", flush=True)
  while True:
    multihost_utils.process_allgather(np.ones(1))
    time.sleep(0.2)
""")


def state_at(workdir, step):
  """The train state of checkpoint `step` of `workdir`, restored here on one device."""
  task, opts = parse_config(configlib.config_from_workdir(workdir))
  ckpt = checkpoint.Checkpointer(os.path.join(workdir, "checkpoints"), read_only=True)
  try:
    return jax.device_get(ckpt.restore(loop.abstract_state(task, opts, sharding.make_mesh()), step))
  finally:
    ckpt.close()


def assert_same_state(a, b):
  leaves_a, leaves_b = jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)
  assert len(leaves_a) == len(leaves_b)
  for (path, x), y in zip(leaves_a, leaves_b, strict=True):
    np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64), rtol=1e-4, atol=2e-5,
                               err_msg=jax.tree_util.keystr(path))


def assert_same_metrics(a, b):
  ma, mb = writer.read_metrics(a), writer.read_metrics(b)
  assert [r["step"] for r in ma] == [r["step"] for r in mb]
  for ra, rb in zip(ma, mb):
    assert ra.keys() == rb.keys()
    for k in ra:
      np.testing.assert_allclose(ra[k], rb[k], rtol=1e-4, atol=1e-5, err_msg=f"step {ra['step']} {k}")


@pytest.fixture(scope="module")
def gan_one(tmp_path_factory):
  """The reference: the default config's smoke variant, 1 process x 4 devices, 4 steps
  (checkpoints at 2 and 4)."""
  root = tmp_path_factory.mktemp("gan_one")
  workdir = str(root / "run")
  procs.check(procs.run([*GAN, "--workdir", workdir], processes=1, devices=4, log_dir=str(root)))
  return workdir


def test_two_processes_train_as_one_then_resume_on_one(gan_one, tmp_path):
  """2 x 2 devices to step 2 (same checkpoint and log as 1 x 4), then 1 x 4 resumes the
  2-process checkpoint to step 4 and ends where the uninterrupted run ends."""
  workdir = str(tmp_path / "run")
  results = procs.check(procs.run([*GAN, "--workdir", workdir, "--config.num_steps=2"], processes=2, devices=2,
                                  log_dir=str(tmp_path / "two")))
  assert_same_state(state_at(workdir, 2), state_at(gan_one, 2))
  ref_log = [r for r in writer.read_metrics(gan_one) if r["step"] <= 2]
  assert len(writer.read_metrics(workdir)) == len(ref_log) == 1
  np.testing.assert_allclose([writer.read_metrics(workdir)[0][k] for k in sorted(ref_log[0])],
                             [ref_log[0][k] for k in sorted(ref_log[0])], rtol=1e-4, atol=1e-5)
  # Process 0 alone writes the workdir's files and prints the summary.
  assert len(glob.glob(os.path.join(workdir, "events.out.tfevents.*"))) == 1
  assert os.path.exists(os.path.join(workdir, "samples", "step_0000002.png"))
  assert "trained steps" in results[0].stdout and "trained steps" not in results[1].stdout

  procs.check(procs.run(["train", "--workdir", workdir, "--config.num_steps=4"], processes=1, devices=4,
                        log_dir=str(tmp_path / "one")))
  assert_same_state(state_at(workdir, 4), state_at(gan_one, 4))
  assert_same_metrics(workdir, gan_one)


def test_one_process_checkpoint_resumes_on_two(gan_one, tmp_path):
  """The 1 x 4 run's step-2 checkpoint, resumed by 2 x 2 devices (joined through the
  environment variables), ends at step 4 where the 1-process run ends."""
  workdir = str(tmp_path / "run")
  shutil.copytree(gan_one, workdir)
  shutil.rmtree(os.path.join(workdir, "checkpoints", "4"))
  procs.check(procs.run(["train", "--workdir", workdir], processes=2, devices=2, log_dir=str(tmp_path / "two"),
                        via_env=True))
  assert_same_state(state_at(workdir, 4), state_at(gan_one, 4))
  assert_same_metrics(workdir, gan_one)


@pytest.fixture(scope="module")
def vae_runs(tmp_path_factory):
  """The VAE's smoke config trained for 4 steps by 1 process x 4 devices and by 2 x 2:
  (one, two) workdirs."""
  root = tmp_path_factory.mktemp("vae")
  one, two = str(root / "one"), str(root / "two")
  procs.check(procs.run([*VAE, "--workdir", one], processes=1, devices=4, log_dir=str(root / "l1")))
  procs.check(procs.run([*VAE, "--workdir", two], processes=2, devices=2, log_dir=str(root / "l2")))
  return one, two


def test_vae_two_processes_train_as_one(vae_runs):
  one, two = vae_runs
  assert_same_state(state_at(two, 4), state_at(one, 4))
  assert_same_metrics(two, one)


def test_vae_eval_on_two_processes_gives_the_figures_of_one(vae_runs, tmp_path):
  """The test bounds (360 test images in batches of 100: each process computes its 2
  batches, the last one padded, and the per-image terms are gathered), the prior
  samples' digits scores and the Inception metrics (FID, IS and the memorised share:
  each process featurises its share of the 30 samples, of the test split and of the
  1,437 training images; a stand-in network, fake_inception_cli.py) equal one
  process's."""
  weights = tmp_path / "fake.safetensors"
  weights.write_bytes(b"a stand-in")
  args = ["eval", "--workdir", vae_runs[0], "--num-samples", "30", "--metrics", "fid,is,memorisation",
          "--inception-weights", str(weights)]
  (one,) = procs.check(procs.run(args, processes=1, devices=4, log_dir=str(tmp_path / "one"), program=FAKE))
  two = procs.check(procs.run(args, processes=2, devices=2, log_dir=str(tmp_path / "two"), program=FAKE))
  assert two[1].stdout.strip() == ""
  expected, got = json.loads(one.stdout), json.loads(two[0].stdout)
  assert expected.keys() == got.keys() and expected["test_images"] == 360 and expected["num_samples"] == 30
  assert {"test_nelbo", "test_iwae_nll", "digits_is", "fid", "is_mean", "memorised_share"} <= set(expected)
  for k in expected:
    np.testing.assert_allclose(got[k], expected[k], rtol=1e-5 if k.startswith("test_") else 1e-4, atol=1e-4,
                               err_msg=k)


def test_stats_on_two_processes_gives_the_statistics_of_one(tmp_path, monkeypatch):
  """`aigc stats` over a folder of 7 images of two sizes (shares of 4 and 3 files), with
  the stand-in network: the .npz of 2 processes equals the one that one process (this
  one) writes, to float64 rounding (the sums are added in another order)."""
  from PIL import Image

  import fake_inception_cli
  from aigc_jax.cli.main import main
  folder = tmp_path / "images"
  folder.mkdir()
  rng = np.random.default_rng(0)
  for i in range(7):
    Image.fromarray(rng.integers(0, 256, (12 + 4 * (i % 2), 12, 3), dtype=np.uint8)).save(folder / f"{i}.png")
  weights = tmp_path / "fake.safetensors"
  weights.write_bytes(b"a stand-in")
  args = ["stats", "--data", str(folder), "--inception-weights", str(weights), "--no-cache", "--batch-size", "3"]
  fake_inception_cli.install(monkeypatch.setattr)
  assert main([*args, "--out", str(tmp_path / "one.npz")]) == 0
  two = procs.check(procs.run([*args, "--out", str(tmp_path / "two.npz")], processes=2, devices=1,
                              log_dir=str(tmp_path / "two"), program=FAKE))
  assert json.loads(two[0].stdout)["num_images"] == 7 and two[1].stdout.strip() == ""
  with np.load(tmp_path / "one.npz") as one, np.load(tmp_path / "two.npz") as got:
    for key in ("mu", "sigma"):
      np.testing.assert_allclose(got[key], one[key], rtol=1e-10, atol=1e-10 * np.abs(one[key]).max(), err_msg=key)


def test_eval_on_two_processes_gives_the_figures_of_one(gan_one, tmp_path):
  """50 samples: chunks padded to the 4 devices, the padding dropped, the features of
  every process gathered; process 0 alone prints."""
  args = ["eval", "--workdir", gan_one, "--num-samples", "50"]
  (one,) = procs.check(procs.run(args, processes=1, devices=4, log_dir=str(tmp_path / "one")))
  two = procs.check(procs.run(args, processes=2, devices=2, log_dir=str(tmp_path / "two")))
  assert two[1].stdout.strip() == ""
  expected, got = json.loads(one.stdout), json.loads(two[0].stdout)
  assert expected.keys() == got.keys() and expected["num_samples"] == 50
  for k in expected:
    np.testing.assert_allclose(got[k], expected[k], rtol=1e-4, atol=1e-4, err_msg=k)


def _wait_for(path, procs_, timeout):
  deadline = time.monotonic() + timeout
  while not (os.path.exists(path) and os.path.getsize(path)):
    assert all(p.poll() is None for p in procs_), "a process exited early"
    assert time.monotonic() < deadline, f"{path} did not appear within {timeout} s"
    time.sleep(0.2)


def test_killed_peer_stops_the_other_with_one_line(tmp_path):
  """Process 1 killed while both are in collectives (a joined program, not a training
  run: what stops the survivor is the watchdog and `exit_together`, whatever the
  command; the gloo collective fails at once and the watchdog names the peer)."""
  peer_timeout = 5
  with procs.started([], processes=2, devices=1, log_dir=str(tmp_path), via_env=True, peer_timeout=peer_timeout,
                     program=JOINED) as (ps, files):
    for out, _ in files:
      _wait_for(out, ps, 300)  # Both have joined.
    ps[1].kill()
    killed = time.monotonic()
    ps[0].wait(timeout=peer_timeout + 30)
    waited = time.monotonic() - killed
  err = open(files[0][1]).read()
  lines = [line for line in err.splitlines() if line.startswith("aigc")]
  assert ps[0].returncode == 3, err[-2000:]
  assert len(lines) == 1 and "process 1 stopped responding" in lines[0], err[-2000:]
  assert "Traceback" not in err
  assert waited < 2 * peer_timeout + 10


def test_sigterm_to_one_process_stops_both_with_one_checkpoint(tmp_path):
  workdir = str(tmp_path / "run")
  args = [*GAN, "--workdir", workdir, "--config.num_steps=100000", "--config.checkpoint_every=100000"]
  with procs.started(args, processes=2, devices=2, log_dir=str(tmp_path)) as (ps, files):
    _wait_for(os.path.join(workdir, "metrics.jsonl"), ps, 900)
    ps[1].send_signal(signal.SIGTERM)
    for p in ps:
      p.wait(timeout=120)
  errs = [open(e).read() for _, e in files]
  assert [p.returncode for p in ps] == [143, 143], errs
  assert "interrupted (SIGTERM)" in errs[1] and "another process was interrupted" in errs[0]
  steps = [int(s) for s in os.listdir(os.path.join(workdir, "checkpoints")) if s.isdigit()]
  assert len(steps) == 1 and steps[0] % 2 == 0  # One save, at a log step (log_every 2).
  assert writer.read_metrics(workdir)[-1]["step"] == steps[0]


def test_killed_coordinator_stops_the_others_with_one_line_last(tmp_path):
  """Process 0 killed: JAX's coordination client in process 1 aborts it at once with
  JAX's own message (nothing in this jaxlib prevents that); its SIGABRT is caught, and
  the last line on stderr is ours, naming process 0, with exit status 3."""
  peer_timeout = 5
  with procs.started([], processes=2, devices=1, log_dir=str(tmp_path), via_env=True, peer_timeout=peer_timeout,
                     program=JOINED) as (ps, files):
    for out, _ in files:
      _wait_for(out, ps, 300)
    ps[0].kill()
    killed = time.monotonic()
    ps[1].wait(timeout=peer_timeout + 30)
    waited = time.monotonic() - killed
  err = open(files[1][1]).read()
  last = err.strip().splitlines()[-1]
  assert ps[1].returncode == 3, err[-2000:]
  assert last.startswith("aigc: error: process 1: lost the coordinator (process 0)"), err[-2000:]
  assert waited < peer_timeout + 10
