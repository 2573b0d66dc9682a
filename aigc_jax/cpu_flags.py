"""XLA:CPU settings measured to be faster for this library's models, applied on import.

jax 0.10's CPU backend hands convolutions to YNNPACK. XLA's own (Eigen) convolutions ran
every model of this library faster on a small AVX2 machine (the DCGAN, VAE and CycleGAN
steps and the Inception features; figures in docs/benchmarks.md), while matrix products
are as fast either way and stay with YNNPACK. The flag only affects the CPU backend: on
a GPU or TPU nothing here changes what XLA does.

XLA reads XLA_FLAGS once, when JAX starts its backend (the first `jax.devices()` or
computation), so `import aigc_jax` sets it in the environment before that; a program that
starts JAX first keeps XLA's defaults. A flag the user already set in XLA_FLAGS is left
as it is (so `--xla_cpu_experimental_ynn_fusion_type=+individual_convolution` restores
the default), and nothing is set for a jaxlib outside `VERIFIED_JAXLIB` (jax 0.11 on the
accelerator machine included), since XLA aborts the process on a flag or value it does
not know.
"""

import importlib.metadata
import os

FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=-individual_convolution",)
# jaxlib release series whose XLA knows FLAGS (flag and value were checked on these).
VERIFIED_JAXLIB = ("0.10.",)


def _jaxlib_version() -> str:
  try:
    return importlib.metadata.version("jaxlib")
  except importlib.metadata.PackageNotFoundError:
    return ""


def apply(environ=None, jaxlib_version: str | None = None) -> list[str]:
  """Appends each of FLAGS whose name XLA_FLAGS does not mention yet; returns those added.

  Does nothing for a jaxlib outside VERIFIED_JAXLIB. `environ` defaults to os.environ.
  """
  environ = os.environ if environ is None else environ
  version = _jaxlib_version() if jaxlib_version is None else jaxlib_version
  if not version.startswith(VERIFIED_JAXLIB):
    return []
  current = environ.get("XLA_FLAGS", "")
  added = [flag for flag in FLAGS if flag.split("=")[0] not in current]
  if added:
    environ["XLA_FLAGS"] = " ".join([current, *added]).strip()
  return added


def cpu_convolution_library() -> str | None:
  """Which kernels XLA:CPU gives a large convolution in this process: "ynnpack" or "xla"
  (Eigen); None when JAX's default backend is not the CPU.

  The environment alone does not tell: a program that started JAX before importing
  aigc_jax has the flag in XLA_FLAGS but not in effect. Compiles one stride-2
  convolution (the DCGAN discriminator's 64 -> 128 layer at batch 128) without running it.
  """
  import jax
  import jax.numpy as jnp
  if jax.default_backend() != "cpu":
    return None
  conv = jax.jit(lambda x, w: jax.lax.conv_general_dilated(
      x, w, (2, 2), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")))
  hlo = conv.lower(jax.ShapeDtypeStruct((128, 16, 16, 64), jnp.float32),
                   jax.ShapeDtypeStruct((4, 4, 64, 128), jnp.float32)).compile().as_text()
  return "ynnpack" if "ynn_fusion" in hlo else "xla"
