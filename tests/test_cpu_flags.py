"""aigc_jax.cpu_flags: which XLA flags are set, when, and that XLA takes them."""

import os
import subprocess
import sys

import jax
import pytest

from aigc_jax import cpu_flags

FLAG = cpu_flags.FLAGS[0]
NAME = FLAG.split("=")[0]


def test_adds_the_flags_to_the_users_own():
  env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
  assert cpu_flags.apply(env, "0.10.2") == [FLAG]
  assert env["XLA_FLAGS"] == f"--xla_force_host_platform_device_count=8 {FLAG}"
  assert cpu_flags.apply(env, "0.10.2") == []  # idempotent: no second copy
  assert env["XLA_FLAGS"].count(NAME) == 1
  empty = {}
  cpu_flags.apply(empty, "0.10.2")
  assert empty["XLA_FLAGS"] == FLAG


def test_leaves_a_users_setting_of_the_same_flag():
  env = {"XLA_FLAGS": f"{NAME}=+individual_convolution"}
  assert cpu_flags.apply(env, "0.10.2") == []
  assert env["XLA_FLAGS"] == f"{NAME}=+individual_convolution"


def test_sets_nothing_for_an_unverified_jaxlib():
  # XLA aborts the process on a flag it does not know, so other versions get nothing.
  env = {}
  assert cpu_flags.apply(env, "0.11.0") == [] and env == {}
  assert cpu_flags.apply(env, "") == [] and env == {}


def _probe_in_subprocess(xla_flags: str) -> str:
  script = "from aigc_jax import cpu_flags; print(cpu_flags.cpu_convolution_library())"
  env = dict(os.environ, XLA_FLAGS=xla_flags, JAX_PLATFORMS="cpu")
  out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                       text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  return out.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="a CPU-backend setting")
@pytest.mark.skipif(not cpu_flags._jaxlib_version().startswith(cpu_flags.VERIFIED_JAXLIB),
                    reason="cpu_flags sets nothing for this jaxlib (by design)")
def test_the_flag_reaches_xla():
  """conftest imports aigc_jax before JAX starts, as `aigc` does. XLA accepted the flag
  (else the process would have aborted) and compiles convolutions with Eigen; with the
  default restored, the same probe finds YNNPACK, so the probe can tell them apart."""
  if os.environ.get("XLA_FLAGS", "").count(NAME) != 1 or FLAG not in os.environ["XLA_FLAGS"]:
    pytest.skip("XLA_FLAGS sets this flag to the user's own value")
  assert cpu_flags.cpu_convolution_library() == "xla"
  assert _probe_in_subprocess(f"{NAME}=+individual_convolution") == "ynnpack"
