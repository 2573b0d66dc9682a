"""aigc_jax.cpu_flags: which XLA flags are set, when, and that XLA takes them."""

import os

import jax
import jax.numpy as jnp

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


def test_this_process_runs_with_the_flags():
  """conftest imports aigc_jax before JAX starts, as `aigc` does; XLA accepted the flag
  (else the process would have aborted) and hands this convolution to Eigen, where the
  default would have made it a YNNPACK fusion."""
  assert NAME in os.environ["XLA_FLAGS"]
  conv = jax.jit(lambda x, w: jax.lax.conv_general_dilated(
      x, w, (2, 2), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")))
  hlo = conv.lower(jnp.ones((128, 16, 16, 64)), jnp.ones((4, 4, 64, 128))).compile().as_text()
  assert "convolution(" in hlo and "ynn_fusion" not in hlo
