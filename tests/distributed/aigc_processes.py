"""Starting `aigc` as several processes on loopback, as the multi-process tests need.

Each process is `python -m aigc_jax.cli.main ...` with its own number of host devices
(`--xla_force_host_platform_device_count`) and, for more than one process, the joining
flags with a free port. Output goes to files (pipes could fill and block a process);
every process still running when the caller is done, or when anything fails, is killed.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
from typing import NamedTuple


class Result(NamedTuple):
  returncode: int
  stdout: str
  stderr: str


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


# XLA's CPU backend at optimisation level 0 compiles these small programs about 3x faster.
# It matters because every multi-process run compiles all of its programs in process 1:
# JAX writes the persistent cache from process 0 only, and process 1's cache keys differ
# from process 0's, so process 1 never finds them. Every process of every run here gets
# the same flags, and the tests compare runs with each other, never with the flags' absence.
TEST_XLA_FLAGS = ("--xla_backend_optimization_level=0",)


def env_for(devices: int) -> dict:
  flags = os.environ.get("XLA_FLAGS", "").split()
  flags = [f for f in flags if not f.startswith(("--xla_force_host_platform_device_count",
                                                 "--xla_backend_optimization_level"))]
  flags += [*TEST_XLA_FLAGS, f"--xla_force_host_platform_device_count={devices}"]
  return dict(os.environ, XLA_FLAGS=" ".join(flags), JAX_PLATFORMS="cpu")


@contextlib.contextmanager
def started(args, *, processes: int, devices: int, log_dir, via_env: bool = False, peer_timeout: int = 20,
            program=("-m", "aigc_jax.cli.main")):
  """Starts `aigc ARGS` as `processes` processes of `devices` devices each; yields the
  Popen objects and the paths of their stdout/stderr files; kills what is left.
  `program`: what `python` runs in place of `-m aigc_jax.cli.main` (a script taking the
  same arguments, `fake_inception_cli.py` say)."""
  port = free_port()
  procs, files = [], []
  try:
    for i in range(processes):
      env = env_for(devices)
      extra = []
      if processes > 1 and via_env:
        env.update(AIGC_COORDINATOR=f"127.0.0.1:{port}", AIGC_NUM_PROCESSES=str(processes),
                   AIGC_PROCESS_ID=str(i), AIGC_PEER_TIMEOUT=str(peer_timeout))
      elif processes > 1:
        extra = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(processes), "--process-id", str(i),
                 "--peer-timeout", str(peer_timeout)]
      out, err = os.path.join(log_dir, f"p{i}.out"), os.path.join(log_dir, f"p{i}.err")
      files.append((out, err))
      with open(out, "w") as fo, open(err, "w") as fe:
        procs.append(subprocess.Popen([sys.executable, *program, *args, *extra],
                                      stdout=fo, stderr=fe, env=env))
    yield procs, files
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
    for p in procs:
      p.wait()


def run(args, *, processes: int, devices: int, log_dir, timeout: float = 900, **kwargs) -> list[Result]:
  """Runs `aigc ARGS` to the end on `processes` x `devices`; one Result per process."""
  os.makedirs(log_dir, exist_ok=True)
  with started(args, processes=processes, devices=devices, log_dir=log_dir, **kwargs) as (procs, files):
    deadline = time.monotonic() + timeout
    for p in procs:
      p.wait(timeout=max(1.0, deadline - time.monotonic()))
    return [Result(p.returncode, open(o).read(), open(e).read()) for p, (o, e) in zip(procs, files)]


def check(results: list[Result]) -> list[Result]:
  """The results, after asserting that every process succeeded (else its stderr's tail)."""
  for i, r in enumerate(results):
    assert r.returncode == 0, f"process {i} exited {r.returncode}: {r.stderr[-3000:]}"
  return results
