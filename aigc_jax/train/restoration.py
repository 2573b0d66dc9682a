"""Restoration training: inpainting and denoising with one network.

`config.mode` picks the corruption; everything else is shared:
- "inpaint": every training image gets a hole mask, drawn in the step from the step's
  key, of a kind picked uniformly from `config.mask.train_types` ("center", "boxes",
  "strokes"; `aigc_jax.restoration.masks`). The network sees the image with its holes
  set to 0 (mid grey) and the mask; the *composite* (the network's pixels in the holes,
  the known pixels copied from the input) is the restored image.
- "denoise": additive Gaussian noise of std `config.noise_sigma` on the [0, 1] scale;
  the mask input is all zeros and the network's output is the restored image.

The generator loss is `l1_weight` x the mean absolute error over the restored pixels
(the holes when inpainting, every pixel when denoising) plus `adv_weight` x an
adversarial loss (`config.loss`, a name in `aigc_jax.losses.LOSSES`) from a PatchGAN
discriminator that sees the restored (or real) image joined to the mask: the
context-encoder recipe (Pathak et al., 2016) with pix2pix's patch discriminator.
One step is the family kit's adversarial update (`aigc_jax.train.adversarial`): the
discriminator on real images and the (stopped-gradient) restored ones, then the network
against the updated discriminator, its gradient pulled back through its saved forward
pass.

`compute_dtype` "bfloat16" runs both networks in bf16 with float32 parameters, optimizer
state and outputs (`aigc_jax.train.precision`), as for the other tasks.

`aigc_jax.inference.restoration` restores a user's images with a trained run;
`aigc_jax.evaluation.restoration` scores it against the classical baselines
(`aigc_jax.restoration.baselines`).
"""

import dataclasses
import functools

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from aigc_jax import crf as crf_lib
from aigc_jax import losses, options as options_lib
from aigc_jax.data import pipeline, restoration_data
from aigc_jax.models import patchgan
from aigc_jax.models import restoration as restoration_models
from aigc_jax.options import inline, one_of, require
from aigc_jax.restoration import masks as masks_lib
from aigc_jax.train import adversarial, chunked, keys, precision
from aigc_jax.train.adversarial import AdamPair
from aigc_jax.train.task import ImageData, RunOptions, Task

MODES = ("inpaint", "denoise")


@flax.struct.dataclass
class RestorationState:
  step: jax.Array
  g_params: dict
  d_params: dict
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState


# ------------------------------------------------------------------------ options

@dataclasses.dataclass(frozen=True)
class RestorationModel:
  """`config.model`: the network's widths and depth, the PatchGAN's width and layers, and
  `crf`, an optional last CRF layer guided by the corrupted image."""
  features: int
  depth: int
  dilations: tuple[int, ...]
  d_features: int
  d_layers: int
  crf: crf_lib.CRFBlock

  def check(self):
    require(min(self.features, self.depth, self.d_features, self.d_layers) >= 1 and min(self.dilations, default=1) >= 1,
            "model.features, depth, d_features, d_layers and dilations must be at least 1")


@dataclasses.dataclass(frozen=True)
class MaskOptions:
  """`config.mask`: the hole kinds drawn in training, the centre box's side fraction and
  the kind used by `aigc eval`."""
  train_types: str
  center_fraction: float
  eval_type: str

  @property
  def kinds(self) -> tuple:
    return tuple(k.strip() for k in self.train_types.split(",") if k.strip())

  def check(self):
    unknown = [k for k in self.kinds if k not in masks_lib.MASKS]
    require(bool(self.kinds) and not unknown,
            f"mask.train_types {self.train_types!r}: choose from {', '.join(masks_lib.MASKS)}")
    require(0 < self.center_fraction < 1, f"mask.center_fraction must be in (0, 1), got {self.center_fraction}")
    one_of(self.eval_type, masks_lib.MASKS, "mask.eval_type")


@dataclasses.dataclass(frozen=True)
class NLMeansOptions:
  """`config.nlmeans`: the baseline's parameters (tuned on training images)."""
  patch_size: int
  patch_distance: int
  h: float

  def check(self):
    require(self.h > 0 and self.patch_size >= 1 and self.patch_distance >= 1,
            f"non-local means needs h > 0 and patch size and search distance at least 1, got {self}")


@dataclasses.dataclass(frozen=True)
class RestorationOptions:
  run: RunOptions = inline()
  data: ImageData
  mode: str
  model: RestorationModel
  mask: MaskOptions
  noise_sigma: float
  loss: str
  l1_weight: float
  adv_weight: float
  optimizer: AdamPair
  nlmeans: NLMeansOptions
  ssim_filter_size: int
  config: ml_collections.ConfigDict = options_lib.section()  # For the data layer.

  def check(self):
    one_of(self.mode, MODES, "restoration mode")
    one_of(self.loss, losses.LOSSES, "loss")
    require(self.noise_sigma > 0, f"noise_sigma must be > 0, got {self.noise_sigma}")
    require(self.l1_weight >= 0 and self.adv_weight >= 0, "l1_weight and adv_weight must be >= 0")
    multiple = restoration_models.multiple(self.model.depth)
    require(self.data.resolution % multiple == 0,
            f"data.resolution {self.data.resolution} must be a multiple of {multiple} for model.depth {self.model.depth}")

  @property
  def adversarial(self) -> adversarial.AdversarialOptions:
    """The kit's options: the loss, one critic update, no penalties, no EMA."""
    return adversarial.AdversarialOptions(loss=self.loss, n_critic=1, gp_weight=0.0, r1_gamma=0.0, ema_decay=0.0)


def parse(config) -> RestorationOptions:
  if "model" in config and hasattr(config.model, "keys") and "crf" not in config.model:
    # A run trained before `model.crf` existed: its network had no CRF. Said here, once,
    # so that such workdirs still load; every shipped config writes the block out.
    config = ml_collections.ConfigDict(config.to_dict() if hasattr(config, "to_dict") else dict(config))
    config.model.crf = ml_collections.ConfigDict(dict(_NO_CRF))
  return options_lib.parse(RestorationOptions, config)


# The `model.crf` of runs trained before the block existed (see `parse`).
_NO_CRF = {"enabled": False, "lam": 1.0, "theta_a": 2.0, "theta_b": 0.3, "window": 5, "iterations": 10,
           "learnable": True}


# ------------------------------------------------------------------------ building

def build_models(opts: RestorationOptions):
  """(restoration network, PatchGAN discriminator)."""
  m = opts.model
  dtype = precision.compute_dtype(opts.run.compute_dtype)
  net = restoration_models.RestorationNet(
      channels=opts.data.channels, features=m.features, depth=m.depth, dilations=m.dilations, dtype=dtype,
      crf=m.crf.options())
  disc = patchgan.PatchDiscriminator(ndf=m.d_features, n_layers=m.d_layers, dtype=dtype)
  return net, disc


def init_state(opts: RestorationOptions, key) -> RestorationState:
  net, disc = build_models(opts)
  r, c = opts.data.resolution, opts.data.channels
  k_g, k_d = jax.random.split(key)
  g_params = net.init(k_g, jnp.zeros((1, r, r, c)), jnp.zeros((1, r, r, 1)))["params"]
  d_params = disc.init(k_d, jnp.zeros((1, r, r, c + 1)))["params"]
  g_tx, d_tx = adversarial.adam_pair(opts.optimizer)
  return RestorationState(step=jnp.asarray(0, jnp.int32), g_params=g_params, d_params=d_params,
                          g_opt_state=g_tx.init(g_params), d_opt_state=d_tx.init(d_params))


# ------------------------------------------------------------------------ corruption

def draw_masks(opts: RestorationOptions, key, kind: str, batch: int) -> jax.Array:
  """bool [batch, R, R] masks of one `kind` ("center" uses `mask.center_fraction`)."""
  r = opts.data.resolution
  if kind == "center":
    return jnp.broadcast_to(masks_lib.center(r, r, fraction=opts.mask.center_fraction), (batch, r, r))
  return masks_lib.sample_masks(key, kind, batch, r, r)


def corrupt(opts: RestorationOptions, key, images, kind: str | None = None):
  """Clean images [B, R, R, C] in [-1, 1] -> (network input, mask [B, R, R, 1] float32).

  Inpainting draws each image's mask kind uniformly from the training kinds (or uses
  `kind` for all); denoising adds noise of std `noise_sigma` (x 2 on the [-1, 1] scale).
  """
  b = images.shape[0]
  if opts.mode == "denoise":
    noisy = masks_lib.add_gaussian_noise(key, (images + 1) / 2, opts.noise_sigma) * 2 - 1
    return noisy, jnp.zeros(images.shape[:3] + (1,), jnp.float32)
  k_kind, k_mask = jax.random.split(key)
  kinds = (kind,) if kind else opts.mask.kinds
  drawn = jnp.stack([draw_masks(opts, jax.random.fold_in(k_mask, i), k, b) for i, k in enumerate(kinds)])
  choice = jax.random.randint(k_kind, (b,), 0, len(kinds))
  mask = drawn[choice, jnp.arange(b)]
  return masks_lib.apply_mask(images, mask, fill=0.0), mask[..., None].astype(jnp.float32)


def fixed_corruption(opts: RestorationOptions, images, key, kind: str | None):
  """`corrupt` as numpy: the same corruption for the same key (grids, evaluation)."""
  corrupted, mask = corrupt(opts, key, jnp.asarray(images), kind)
  return np.asarray(corrupted), np.asarray(mask)


def restored(opts: RestorationOptions, output, corrupted, mask):
  """The restored image: the composite for inpainting, the output itself for denoising."""
  if opts.mode == "denoise":
    return output
  return mask * output + (1 - mask) * corrupted


# ------------------------------------------------------------------------ training

def make_train_step(opts: RestorationOptions):
  net, disc = build_models(opts)
  g_tx, d_tx = adversarial.adam_pair(opts.optimizer)
  adv = losses.get_loss(opts.loss)
  l1_weight, adv_weight = opts.l1_weight, opts.adv_weight

  def train_step(state: RestorationState, batch, key):
    images = batch["image"]
    corrupted, mask = corrupt(opts, key, images)

    def d_apply(params, collections, image):
      return disc.apply({"params": params}, jnp.concatenate([image, mask], axis=-1)), collections
    critic = adversarial.Critic(d_apply, d_tx)

    # The restored pixels: the holes (inpainting) or every pixel (denoising). Inside
    # them the composite equals the network's output, so L1 on it is L1 on the output.
    region = mask if opts.mode == "inpaint" else jnp.ones_like(mask)
    count = jnp.maximum(jnp.sum(region) * images.shape[-1], 1.0)

    def g_loss(fake, d_params, d_collections):
      l1 = jnp.sum(region * jnp.abs(fake - images)) / count
      adv_loss = jnp.mean(adv.g_loss(d_apply(d_params, d_collections, fake)[0]))
      return l1_weight * l1 + adv_weight * adv_loss, (l1, adv_loss)

    g_params, g_opt_state, _, d, d_metrics, g_loss_value, (l1, adv_loss) = adversarial.update(
        generate=lambda p: (restored(opts, net.apply({"params": p}, corrupted, mask), corrupted, mask), None),
        g_params=state.g_params, g_opt_state=state.g_opt_state, g_tx=g_tx, critic=critic,
        d=adversarial.DState(state.d_params, {}, state.d_opt_state), opts=opts.adversarial, real=images,
        g_loss=g_loss, key=jax.random.split(key, 2))
    new_state = state.replace(step=state.step + 1, g_params=g_params, d_params=d.params,
                              g_opt_state=g_opt_state, d_opt_state=d.opt_state)
    return new_state, {"g_loss": g_loss_value, "d_loss": d_metrics["d_loss"], "l1": l1, "g_adv": adv_loss}
  return train_step


def train_batches(opts: RestorationOptions, start_step: int):
  return restoration_data.train_batches(opts.config, start_step)


# ------------------------------------------------------------------------ the network

@functools.lru_cache(maxsize=8)
def _network_program(opts: RestorationOptions):
  net, _ = build_models(opts)

  @jax.jit
  def program(params, corrupted, mask):
    return restored(opts, net.apply({"params": params}, corrupted, mask), corrupted, mask)
  return program


def restore(opts: RestorationOptions, state, corrupted, mask, chunk: int = 128) -> np.ndarray:
  """The model's restoration of corrupted images [N, H, W, C] in [-1, 1] with masks
  [N, H, W, 1] (zeros for denoising): float32 [N, H, W, C] in [-1, 1]. H and W must be
  multiples of 2**model.depth (`aigc_jax.inference.restoration` pads)."""
  program = functools.partial(_network_program(opts), state.g_params)
  return chunked.chunked_apply(program, np.asarray(corrupted, np.float32), np.asarray(mask, np.float32),
                               chunk=chunk)


def held_out_images(opts: RestorationOptions, num: int | None = None) -> np.ndarray:
  """The first `num` (all if None) test images, float32 [N, R, R, C] in [-1, 1]."""
  return restoration_data.test_images(opts.config, num)


def sample_grid(opts: RestorationOptions, state):
  """Three rows from the same test images and corruptions at every step: corrupted,
  restored, original."""
  images = held_out_images(opts, opts.run.num_grid_samples)
  corrupted, mask = fixed_corruption(opts, images, keys.stream_key(opts.run.seed, "grid"), None)
  out = restore(opts, state, corrupted, mask)
  rows = np.concatenate([corrupted, out, images])
  return pipeline.to_uint8(np.clip(rows, -1, 1)), len(images)


TASK = Task(parse=parse, init_state=init_state, make_train_step=make_train_step,
            train_batches=train_batches, sample_grid=sample_grid)
