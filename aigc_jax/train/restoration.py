"""Restoration training and evaluation: inpainting and denoising with one network.

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
One step is one discriminator update on real images and the (stopped-gradient)
restored ones, then one network update against the updated discriminator, the
network's gradient pulled back through its saved forward pass (`jax.vjp`).

`compute_dtype` "bfloat16" runs both networks in bf16 with float32 parameters, optimizer
state and outputs (`aigc_jax.train.precision`), as for the other tasks.

`evaluate` restores the test split with the run's model, with non-local means
(`aigc_jax.restoration.nlmeans`, parameters in `config.nlmeans`) and with a trivial
baseline, `mean_fill`: each hole filled with the mean colour of the image's known
pixels, or, for denoising, each pixel replaced by the mean of its 3x3 neighbourhood.
It reports `psnr_<method>` and `ssim_<method>` over whole images and, for inpainting,
`psnr_hole_<method>` and `ssim_hole_<method>` over the holes
(`aigc_jax.restoration.metrics`), method in model, nlmeans, mean_fill.
"""

import functools

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aigc_jax import losses
from aigc_jax.data import pipeline, restoration_data
from aigc_jax.errors import UserError
from aigc_jax.models import cyclegan as cyclegan_models
from aigc_jax.models import restoration as restoration_models
from aigc_jax.restoration import masks as masks_lib
from aigc_jax.restoration import metrics, nlmeans
from aigc_jax.train import precision
from aigc_jax.train.task import Task

MODES = ("inpaint", "denoise")
METHODS = ("model", "nlmeans", "mean_fill")
# Key streams derived from config.seed with fold_in (the loop uses 1 for its steps).
_INIT_STREAM, _GRID_STREAM = 0, 2


@flax.struct.dataclass
class RestorationState:
  step: jax.Array
  g_params: dict
  d_params: dict
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState


# ------------------------------------------------------------------------ building

def mode(config) -> str:
  if config.mode not in MODES:
    raise UserError(f"unknown restoration mode {config.mode!r}; choose one of {', '.join(MODES)}")
  return config.mode


def build_models(config):
  """(restoration network, PatchGAN discriminator) for `config`."""
  m = config.model
  if config.data.resolution % restoration_models.multiple(m.depth):
    raise UserError(f"data.resolution {config.data.resolution} must be a multiple of "
                    f"{restoration_models.multiple(m.depth)} for model.depth {m.depth}")
  dtype = precision.compute_dtype(config)
  net = restoration_models.RestorationNet(
      channels=config.data.channels, features=m.features, depth=m.depth, dilations=tuple(m.dilations),
      dtype=dtype)
  disc = cyclegan_models.PatchDiscriminator(ndf=m.d_features, n_layers=m.d_layers, dtype=dtype)
  return net, disc


def build_optimizers(config):
  o = config.optimizer
  return optax.adam(o.g_lr, b1=o.b1, b2=o.b2), optax.adam(o.d_lr, b1=o.b1, b2=o.b2)


def init_state(config, key) -> RestorationState:
  mode(config)
  net, disc = build_models(config)
  r, c = config.data.resolution, config.data.channels
  k_g, k_d = jax.random.split(jax.random.fold_in(key, _INIT_STREAM))
  g_params = net.init(k_g, jnp.zeros((1, r, r, c)), jnp.zeros((1, r, r, 1)))["params"]
  d_params = disc.init(k_d, jnp.zeros((1, r, r, c + 1)))["params"]
  g_tx, d_tx = build_optimizers(config)
  return RestorationState(step=jnp.asarray(0, jnp.int32), g_params=g_params, d_params=d_params,
                          g_opt_state=g_tx.init(g_params), d_opt_state=d_tx.init(d_params))


# ------------------------------------------------------------------------ corruption

def _train_types(config) -> tuple:
  kinds = tuple(k.strip() for k in config.mask.train_types.split(",") if k.strip())
  unknown = [k for k in kinds if k not in masks_lib.MASKS]
  if not kinds or unknown:
    raise UserError(f"mask.train_types {config.mask.train_types!r}: choose from {', '.join(masks_lib.MASKS)}")
  return kinds


def draw_masks(config, key, kind: str, batch: int) -> jax.Array:
  """bool [batch, R, R] masks of one `kind` ("center" uses `config.mask.center_fraction`)."""
  r = config.data.resolution
  if kind == "center":
    return jnp.broadcast_to(masks_lib.center(r, r, fraction=config.mask.center_fraction), (batch, r, r))
  return masks_lib.sample_masks(key, kind, batch, r, r)


def corrupt(config, key, images, kind: str | None = None):
  """Clean images [B, R, R, C] in [-1, 1] -> (network input, mask [B, R, R, 1] float32).

  Inpainting draws each image's mask kind uniformly from the training kinds (or uses
  `kind` for all); denoising adds noise of std `noise_sigma` (x 2 on the [-1, 1] scale).
  """
  b = images.shape[0]
  if mode(config) == "denoise":
    noisy = masks_lib.add_gaussian_noise(key, (images + 1) / 2, config.noise_sigma) * 2 - 1
    return noisy, jnp.zeros(images.shape[:3] + (1,), jnp.float32)
  k_kind, k_mask = jax.random.split(key)
  kinds = (kind,) if kind else _train_types(config)
  drawn = jnp.stack([draw_masks(config, jax.random.fold_in(k_mask, i), k, b) for i, k in enumerate(kinds)])
  choice = jax.random.randint(k_kind, (b,), 0, len(kinds))
  mask = drawn[choice, jnp.arange(b)]
  return masks_lib.apply_mask(images, mask, fill=0.0), mask[..., None].astype(jnp.float32)


def restored(config, output, corrupted, mask):
  """The restored image: the composite for inpainting, the output itself for denoising."""
  if mode(config) == "denoise":
    return output
  return mask * output + (1 - mask) * corrupted


# ------------------------------------------------------------------------ training

def make_train_step(config):
  net, disc = build_models(config)
  g_tx, d_tx = build_optimizers(config)
  adv = losses.get_loss(config.loss)
  l1_weight, adv_weight = float(config.l1_weight), float(config.adv_weight)

  def d_logits(params, image, mask):
    return disc.apply({"params": params}, jnp.concatenate([image, mask], axis=-1))

  def train_step(state: RestorationState, batch, key):
    images = batch["image"]
    corrupted, mask = corrupt(config, key, images)
    output, g_vjp = jax.vjp(lambda p: net.apply({"params": p}, corrupted, mask), state.g_params)
    fake = restored(config, output, corrupted, mask)

    def d_loss_fn(params):
      real_logits = d_logits(params, images, mask)
      fake_logits = d_logits(params, jax.lax.stop_gradient(fake), mask)
      return jnp.mean(adv.d_loss(real_logits, fake_logits))
    d_loss, d_grads = jax.value_and_grad(d_loss_fn)(state.d_params)
    d_updates, d_opt_state = d_tx.update(d_grads, state.d_opt_state, state.d_params)
    d_params = optax.apply_updates(state.d_params, d_updates)

    # The restored pixels: the holes (inpainting) or every pixel (denoising).
    region = mask if mode(config) == "inpaint" else jnp.ones_like(mask)
    count = jnp.maximum(jnp.sum(region) * images.shape[-1], 1.0)

    def g_loss_fn(out):
      l1 = jnp.sum(region * jnp.abs(out - images)) / count
      adv_loss = jnp.mean(adv.g_loss(d_logits(d_params, restored(config, out, corrupted, mask), mask)))
      return l1_weight * l1 + adv_weight * adv_loss, (l1, adv_loss)
    (g_loss, (l1, adv_loss)), out_grad = jax.value_and_grad(g_loss_fn, has_aux=True)(output)
    (g_grads,) = g_vjp(out_grad)
    g_updates, g_opt_state = g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)

    new_state = state.replace(step=state.step + 1, g_params=g_params, d_params=d_params,
                              g_opt_state=g_opt_state, d_opt_state=d_opt_state)
    return new_state, {"g_loss": g_loss, "d_loss": d_loss, "l1": l1, "g_adv": adv_loss}
  return train_step


def train_batches(config, start_step: int):
  return restoration_data.train_batches(config, start_step)


# ------------------------------------------------------------------------ restoring

@functools.partial(jax.jit, static_argnums=(0,))
def _apply_jit(net, params, corrupted, mask):
  return net.apply({"params": params}, corrupted, mask)


def restore(config, state, corrupted, mask, chunk: int = 128) -> np.ndarray:
  """The model's restoration of corrupted images [N, H, W, C] in [-1, 1] with masks
  [N, H, W, 1] (zeros for denoising): float32 [N, H, W, C] in [-1, 1]. H and W must be
  multiples of 2**model.depth (`aigc inpaint` pads)."""
  net, _ = build_models(config)
  outs = []
  for i in range(0, len(corrupted), chunk):
    c, m = jnp.asarray(corrupted[i:i + chunk]), jnp.asarray(mask[i:i + chunk], jnp.float32)
    outs.append(np.asarray(restored(config, _apply_jit(net, state.g_params, c, m), c, m)))
  return np.concatenate(outs)


def restore_image(config, state, corrupted01, mask) -> np.ndarray:
  """The model on one image of any size: float32 [H, W, C] on the [0, 1] scale (noisy, or
  with anything in its holes) and mask bool [H, W] (all False for denoising) -> the
  restored image [H, W, C] on [0, 1], known pixels copied when inpainting.

  The image is reflect-padded to a multiple of the network's downsampling factor (the
  padding's mask reflected too), restored, and cropped back.
  """
  h, w = corrupted01.shape[:2]
  m = restoration_models.multiple(config.model.depth)
  pad = ((0, -h % m), (0, -w % m))
  pad_mode = "reflect" if min(h, w) > 1 else "edge"
  x = np.pad(np.asarray(corrupted01, np.float32) * 2 - 1, pad + ((0, 0),), mode=pad_mode)
  holes = np.pad(np.asarray(mask, np.float32), pad, mode=pad_mode)[None, ..., None]
  if mode(config) == "inpaint":
    x = np.where(holes[0] > 0.5, 0.0, x)  # The holes' content never reaches the network.
  out = (restore(config, state, x[None], holes)[0, :h, :w] + 1) / 2
  if mode(config) == "inpaint":
    out = np.where(np.asarray(mask)[..., None], out, corrupted01)
  return out


def nlmeans_params(config=None, **overrides) -> dict:
  """The non-local means parameters: `overrides` that are not None, else the run's
  `config.nlmeans`, else 5, 6 and h 0.1 (the module's defaults). Checked."""
  saved = config.get("nlmeans", {}) if config is not None and config.get("task") == "restoration" else {}
  defaults = {"patch_size": 5, "patch_distance": 6, "h": 0.1}
  params = {k: overrides[k] if overrides.get(k) is not None else saved.get(k, v) for k, v in defaults.items()}
  if not params["h"] > 0 or params["patch_size"] < 1 or params["patch_distance"] < 1:
    raise UserError(f"non-local means needs h > 0 and patch size and search distance at least 1, got {params}")
  return params


def nlmeans_restore(config, corrupted01, mask, chunk: int = 64) -> np.ndarray:
  """Non-local means on [0, 1]-scale images [N, H, W, C] (masks bool [N, H, W])."""
  p = config.nlmeans
  outs = []
  for i in range(0, len(corrupted01), chunk):
    c = jnp.asarray(corrupted01[i:i + chunk])
    if mode(config) == "denoise":
      # Unclipped, as the model sees it: clipping would bias the noise (dark pixels
      # would keep only upward noise) and break the known-sigma assumption.
      out = nlmeans.denoise_batch(c, patch_size=p.patch_size, patch_distance=p.patch_distance,
                                  h=p.h, sigma=config.noise_sigma)
    else:
      out = nlmeans.inpaint_batch(c, jnp.asarray(mask[i:i + chunk]), patch_size=p.patch_size,
                                  patch_distance=p.patch_distance, h=p.h)
    outs.append(np.asarray(out))
  return np.concatenate(outs)


def mean_fill(config, corrupted01, mask) -> np.ndarray:
  """The trivial baseline on [0, 1] images: holes get the image's mean known colour
  (inpainting); each pixel the mean of its 3x3 neighbourhood, edges reflected (denoising)."""
  if mode(config) == "denoise":
    padded = np.pad(corrupted01, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    h, w = corrupted01.shape[1:3]
    return sum(padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9
  known = ~mask[..., None]
  mean = (corrupted01 * known).sum(axis=(1, 2), keepdims=True) / np.maximum(known.sum(axis=(1, 2), keepdims=True), 1)
  return np.where(known, corrupted01, mean)


def nlmeans_grid_search(config, grid: dict, num_images: int = 128, seed: int = 5) -> list[dict]:
  """Scores non-local means parameters on the first `num_images` *training* images.

  `grid` maps "patch_size", "patch_distance" and "h" to lists of values; every
  combination restores the same corrupted images (centre masks when inpainting, the
  config's noise when denoising). Returns one dict per combination with its parameters
  and `psnr` / `ssim` (over the holes when inpainting), best PSNR first: how the shipped
  configs' `nlmeans` values were chosen without looking at the test split.
  """
  import itertools
  images = restoration_data.split_images(config, "train", num_images)
  kind = "center" if mode(config) == "inpaint" else None
  corrupted, mask4 = _fixed_corruption(config, images, jax.random.key(seed), kind)
  mask, clean01 = mask4[..., 0] > 0.5, (images + 1) / 2
  region = mask if mode(config) == "inpaint" else None
  results = []
  names = ("patch_size", "patch_distance", "h")
  for values in itertools.product(*(grid[n] for n in names)):
    trial = config.copy_and_resolve_references()
    trial.nlmeans.update(dict(zip(names, values)))
    out = np.clip(nlmeans_restore(trial, (corrupted + 1) / 2, mask), 0, 1)
    results.append({**dict(zip(names, values)),
                    "psnr": float(np.nanmean(metrics.psnr(out, clean01, region))),
                    "ssim": float(np.nanmean(metrics.ssim(out, clean01, region)))})
  return sorted(results, key=lambda r: -r["psnr"])


def _fixed_corruption(config, images, key, kind: str | None):
  corrupted, mask = corrupt(config, key, jnp.asarray(images), kind)
  return np.asarray(corrupted), np.asarray(mask)


def _eval_kind(config, options) -> str | None:
  if mode(config) == "denoise":
    if options.get("mask_type"):
      raise UserError("--mask-type is for inpainting runs; this run denoises (noise_sigma in its config)")
    return None
  kind = options.get("mask_type") or config.mask.get("eval_type", "center")
  if kind not in masks_lib.MASKS:
    raise UserError(f"unknown mask type {kind!r}; choose one of {', '.join(masks_lib.MASKS)}")
  return kind


# ------------------------------------------------------------------------ task API

def sample_grid(config, state):
  """Three rows from the same test images and corruptions at every step: corrupted,
  restored, original."""
  n = config.get("num_grid_samples", 8)
  images = restoration_data.test_images(config, n)
  key = jax.random.fold_in(jax.random.key(config.seed), _GRID_STREAM)
  corrupted, mask = _fixed_corruption(config, images, key, None)
  out = restore(config, state, corrupted, mask)
  rows = np.concatenate([corrupted, out, images])
  return pipeline.to_uint8(np.clip(rows, -1, 1)), len(images)


def generate(config, state, key, num: int, **options) -> np.ndarray:
  """The model's restorations uint8 [num, R, R, C] of the first `num` test images,
  corrupted with the evaluation mask kind (or noise) drawn from `key`."""
  if options.get("labels") or options.get("attributes"):
    raise UserError("--labels/--attributes are for conditional GANs, not restoration runs")
  images = restoration_data.test_images(config, num)
  corrupted, mask = _fixed_corruption(config, images, key, _eval_kind(config, options))
  return pipeline.to_uint8(restore(config, state, corrupted, mask))


def evaluate(config, state, options: dict) -> dict:
  """PSNR and SSIM of the model, non-local means and mean fill on the test split."""
  if options.get("metrics"):
    raise UserError("--metrics (FID/IS/KID) is for generative runs; restoration runs report PSNR and SSIM")
  kind = _eval_kind(config, options)
  images = restoration_data.test_images(config, options.get("num_samples"))
  key = jax.random.fold_in(jax.random.key(options.get("seed", 0)), 12345)
  corrupted, mask4 = _fixed_corruption(config, images, key, kind)
  mask = mask4[..., 0] > 0.5
  clean01, corrupted01 = (images + 1) / 2, (corrupted + 1) / 2
  results = {
      "model": (restore(config, state, corrupted, mask4) + 1) / 2,
      "nlmeans": nlmeans_restore(config, corrupted01, mask),
      "mean_fill": mean_fill(config, corrupted01, mask),
  }
  if mode(config) == "denoise":
    results["noisy"] = corrupted01
  out = {"step": int(state.step), "num_images": int(len(images)), "mode": config.mode}
  out.update({"mask_type": kind} if kind else {"noise_sigma": float(config.noise_sigma)})
  filter_size = config.get("ssim_filter_size", 7)
  for method, restored01 in results.items():
    x = np.clip(restored01, 0, 1)
    out[f"psnr_{method}"] = float(np.nanmean(metrics.psnr(x, clean01)))
    out[f"ssim_{method}"] = float(np.nanmean(metrics.ssim(x, clean01, filter_size=filter_size)))
    if mode(config) == "inpaint":
      out[f"psnr_hole_{method}"] = float(np.nanmean(metrics.psnr(x, clean01, mask)))
      out[f"ssim_hole_{method}"] = float(np.nanmean(metrics.ssim(x, clean01, mask, filter_size=filter_size)))
  return out


TASK = Task(init_state=init_state, make_train_step=make_train_step, train_batches=train_batches,
            sample_grid=sample_grid, generate=generate, evaluate=evaluate)
