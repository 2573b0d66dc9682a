r"""The CycleGAN baseline of pix2pix_digits: the same edges -> digit data, unpaired.

pix2pix learns from aligned (edges, digit) pairs; CycleGAN only from a set of edge maps
and a set of digits, shuffled apart. Trained on the pix2pix_digits pairs written out as
an unpaired folder (trainA/ the edge maps, trainB/ the digits, testA/, testB/), at the
same 16x16 size, crop and flip, batch and step count as configs/pix2pix_digits.py, then
scored on the same held-out pairs (docs/pix2pix.md, "Measurements").

  python scripts/pix2pix_table.py --export-unpaired runs/digits_edges_unpaired
  aigc train --config configs/pix2pix_digits_cyclegan.py --workdir runs/pix2pix_digits_cyclegan \
      --config.data.path=runs/digits_edges_unpaired
  python scripts/pix2pix_table.py --data pix2pix_digits "CycleGAN=runs/pix2pix_digits_cyclegan"

The paper's recipe otherwise (configs/cyclegan_horse2zebra.py): least-squares GAN
loss, cycle weights 10, identity 0.5, pools of 50; ResNet generators of 6 blocks (the
paper's choice for small images) as wide as pix2pix_digits' U-Net (ngf 32) and a
PatchGAN with one stride-2 layer as pix2pix_digits' (n_layers_d 1).
"""

from aigc_jax.configs import common, cyclegan_horse2zebra


def get_config(variant: str = ""):
  """`variant` "smoke": a tiny config for tests."""
  config = cyclegan_horse2zebra.get_config()
  config.batch_size = 16  # pix2pix_digits' batch.
  config.log_every = 50
  config.sample_every = 500
  config.checkpoint_every = 500
  config.num_grid_samples = 16
  config.n_epochs = 10  # 10 + 10 epochs of 100 steps: pix2pix_digits' 2000 steps.
  config.n_epochs_decay = 10
  config.steps_per_epoch = 100

  d = config.data
  d.source = "folder"
  d.path = ""  # Written by `scripts/pix2pix_table.py --export-unpaired DIR`.
  d.load_size = 18
  d.crop_size = 16
  d.flip = True

  config.model.ngf = 32
  config.model.ndf = 32
  config.model.n_blocks = 6
  config.model.n_layers_d = 1
  return common.apply_variants(config, variant, {"smoke": _smoke})


def _smoke(config):
  config.n_epochs = 1
  config.n_epochs_decay = 1
  config.steps_per_epoch = 2
  config.batch_size = 4
  config.log_every = 2
  config.sample_every = 4
  config.checkpoint_every = 2
  config.num_grid_samples = 4
  config.model.ngf = 8
  config.model.ndf = 8
  config.model.n_blocks = 1
