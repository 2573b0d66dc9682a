r"""Inpainting crops of scikit-learn's two sample photographs: colour images, offline.

32x32 RGB crops of the pagoda and dahlia photos (`aigc_jax.data.photos`, both pooled,
photos scaled by 0.5) with the digits recipe (configs/inpaint_digits.py) one level
deeper. The test crops are held-out positions of the same two scenes (see
aigc_jax/data/photos.py), so the figures show how well a run fits these scenes.

  aigc train --config configs/inpaint_photos.py --workdir runs/inpaint_photos
  aigc eval --workdir runs/inpaint_photos

Measured (docs/restoration.md): 1000 steps in 25 minutes on 2 idle CPU cores; the model
fills centre holes with 26.5 dB PSNR, *below* non-local means' 28.8 dB on these
textured scenes. The offline colour example, not yet a result.
"""

from aigc_jax.configs import inpaint_digits


def get_config(variant: str = ""):
  """`variant`: names of `inpaint_digits.VARIANTS` joined by "+" (e.g. "smoke")."""
  config = inpaint_digits.get_config()
  d = config.data
  d.source = "photos"
  d.name = "photos"  # A label only: the photos source reads no tfds dataset.
  d.resolution = 32
  d.channels = 3
  d.photo_size = 32
  d.photo_scale = 0.5
  d.photo_seed = 0
  d.num_train = 2048
  d.num_test = 128
  config.model.depth = 3
  config.model.dilations = (1, 2)
  config.model.d_layers = 2
  return inpaint_digits.apply_variants(config, variant)
