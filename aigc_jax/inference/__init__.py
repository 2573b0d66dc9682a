"""Inference apart from training: load a trained run and use it, from a notebook or the CLI.

  from aigc_jax import inference
  run = inference.load("runs/dcgan_digits")          # options, family, latest state
  images = inference.sample(run, jax.random.key(0), 16)
  sample = inference.sampler("runs/cgan_digits")     # a plain callable
  images = sample(16, labels=["3", "7"])

Each family's own operations are in its module: `inference.vae` (reconstruct,
interpolate), `inference.cyclegan` (translate), `inference.restoration` (inpaint,
denoise). Modules are imported on first use, so this package stays cheap to import.
"""

import importlib
import inspect

import jax

from aigc_jax.errors import UserError
from aigc_jax.inference.run import Run, load

# config.task -> the module whose `sample(run, key, num, labels=None, attributes=None)`
# draws from a run of that family.
FAMILIES = {
    "gan": "aigc_jax.inference.gan",
    "vae": "aigc_jax.inference.vae",
    "cyclegan": "aigc_jax.inference.cyclegan",
    "restoration": "aigc_jax.inference.restoration_samples",
    "pix2pix": "aigc_jax.inference.pix2pix",
    "text2img": "aigc_jax.inference.text2img",
    "text_encoder": "aigc_jax.inference.text_encoder",
    "diffusion": "aigc_jax.inference.diffusion",
}


def family(run: Run):
  """The inference module of `run`'s family."""
  return importlib.import_module(FAMILIES[run.config.task])


def sample(run: Run, key, num: int, labels=None, attributes=None, **settings):
  """`num` samples uint8 [num, H, W, C] of any run that generates (labels and attributes
  are lists of names, for conditional runs). `settings` are a family's own sampling
  options (diffusion: steps, guidance); those left None are not passed, and one the
  family does not take is a one-line error naming it."""
  fn = family(run).sample
  given = {k: v for k, v in settings.items() if v is not None}
  extra = sorted(set(given) - set(inspect.signature(fn).parameters))
  if extra:
    names = ", ".join("--" + k.replace("_", "-") for k in extra)
    raise UserError(f"{names} does not apply to a {run.config.task!r} run")
  return fn(run, key, num, labels=labels, attributes=attributes, **given)


def sampler(workdir: str):
  """`fn(num, seed=0, labels=None, attributes=None) -> uint8 [num, H, W, C]` for a workdir."""
  run = load(workdir)

  def fn(num: int, seed: int = 0, labels=None, attributes=None):
    return sample(run, jax.random.key(seed), num, labels=labels, attributes=attributes)
  return fn


from aigc_jax._exports import exports as _exports  # noqa: E402

_MODULES = {m: f"aigc_jax.inference.{m}" for m in ("gan", "vae", "cyclegan", "restoration", "pix2pix", "tiling",
                                                       "diffusion", "text2img", "text_encoder")}
_names, _lazy_getattr, _lazy_dir = _exports(__name__, _MODULES)
__all__ = ["FAMILIES", "Run", "family", "load", "sample", "sampler", *_names]


def __getattr__(name):
  return _lazy_getattr(name)


def __dir__():
  return sorted(set(globals()) | set(_names))
