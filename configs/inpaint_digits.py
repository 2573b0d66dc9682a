r"""Inpainting on the embedded `digits` dataset: the learned model against non-local means.

A restoration network (`aigc_jax.models.restoration`, 2 levels and a dilated middle) at
16x16 grayscale, trained to fill centre boxes (half the side), random boxes and brush
strokes, with L1 on the holes plus a small PatchGAN adversarial term
(`aigc_jax.train.restoration`).

  aigc train --config configs/inpaint_digits.py --workdir runs/inpaint_digits
  aigc eval --workdir runs/inpaint_digits            # centre masks on the 360 test digits
  aigc inpaint --workdir runs/inpaint_digits --input digit.png --mask-type center --out filled.png

Expected (README, docs/restoration.md): the model beats non-local means and mean fill
in PSNR and SSIM, over the holes and over the whole image, within ten minutes on a
2-core CPU. Variants: `:denoise` (noise sigma 0.2, see configs/denoise_digits.py),
`:crf` (the network ends in a learnable Gaussian CRF guided by the corrupted image,
docs/restoration.md), `:smoke` (tiny, for tests).
"""

import ml_collections

from aigc_jax.configs import common


def get_config(variant: str = ""):
  """`variant`: "+"-separated names of `VARIANTS`."""
  config = common.get_config()
  config.task = "restoration"
  config.mode = "inpaint"
  config.num_steps = 1000
  config.batch_size = 64
  config.log_every = 50
  config.sample_every = 250
  config.checkpoint_every = 250
  config.num_grid_samples = 8

  config.data = common.digits_data(resolution=16)
  config.data.source = "tfds"

  config.model = ml_collections.ConfigDict()
  config.model.features = 32
  config.model.depth = 2
  config.model.dilations = (1, 2)
  config.model.d_features = 32  # The PatchGAN discriminator's first width.
  config.model.d_layers = 1  # Its stride-2 layers; 1 gives 6x6 patches on 16x16 images.
  # An optional last layer: a Gaussian CRF guided by the corrupted image (aigc_jax.crf),
  # trained end to end; the `crf` variant enables it. The values are the starting ones
  # of the learnable lam, theta_a, theta_b.
  config.model.crf = ml_collections.ConfigDict()
  config.model.crf.enabled = False
  config.model.crf.lam = 1.0
  config.model.crf.theta_a = 2.0  # Pixels.
  config.model.crf.theta_b = 0.3  # Guide units ([-1, 1] scale).
  config.model.crf.window = 5
  config.model.crf.iterations = 10
  config.model.crf.learnable = True

  # Holes drawn for training (one kind per image, uniformly) and for `aigc eval`.
  config.mask = ml_collections.ConfigDict()
  config.mask.train_types = "center,boxes,strokes"
  config.mask.center_fraction = 0.5
  config.mask.eval_type = "center"
  config.noise_sigma = 0.2  # Denoising runs: the noise std on the [0, 1] scale.

  config.loss = "non_saturating"  # The adversarial loss, a name in aigc_jax.losses.LOSSES.
  config.l1_weight = 1.0
  config.adv_weight = 0.01
  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.g_lr = 1e-3
  config.optimizer.d_lr = 2e-4
  config.optimizer.b1 = 0.5
  config.optimizer.b2 = 0.999

  # The non-local means baseline of `aigc eval` (and `aigc inpaint --method nlmeans`),
  # tuned for it by `python scripts/tune_nlmeans.py configs/inpaint_digits.py`: the best
  # of patch size {3, 5, 7} x search radius {5, 7, 9} x h by hole PSNR on 128 *training*
  # digits with centre masks (denoising: whole-image PSNR at sigma 0.2), so the baseline
  # is at its best and never sees the test split.
  config.nlmeans = ml_collections.ConfigDict()
  config.nlmeans.patch_size = 5
  config.nlmeans.patch_distance = 7
  config.nlmeans.h = 0.06
  config.ssim_filter_size = 7
  return apply_variants(config, variant)


def apply_variants(config, variant: str):
  """Applies the "+"-separated names of `VARIANTS` in `variant` to `config`, in order."""
  return common.apply_variants(config, variant, VARIANTS)


def _denoise(config):
  """The same network trained to remove Gaussian noise of std 0.2 (on the [0, 1] scale)."""
  config.mode = "denoise"
  config.noise_sigma = 0.2
  # scripts/tune_nlmeans.py configs/denoise_digits.py: the best on training digits.
  config.nlmeans.patch_size = 7
  config.nlmeans.patch_distance = 9
  config.nlmeans.h = 0.2


def _crf(config):
  """The network ends in a Gaussian CRF guided by the corrupted image, trained end to end."""
  config.model.crf.enabled = True


def _smoke(config):
  config.num_steps = 4
  config.batch_size = 8
  config.log_every = 2
  config.sample_every = 4
  config.checkpoint_every = 2
  config.num_grid_samples = 4
  config.model.features = 8
  config.model.d_features = 8
  config.model.dilations = (2,)


VARIANTS = {"smoke": _smoke, "denoise": _denoise, "crf": _crf}
