r"""CycleGAN on horse2zebra (tensorflow-datasets `cycle_gan/horse2zebra`): the paper's recipe.

As the authors' release trains it: ResNet generators with 9 blocks at 256x256 (images
resized to 286, randomly cropped to 256 and flipped), 70x70 PatchGANs, least-squares
GAN loss, cycle weights 10, identity weight 0.5, pools of 50 fakes, batch size 1, Adam
2e-4 (b1 0.5) for 100 epochs then linear decay to zero over 100 more. An epoch is the
larger domain once (1334 zebras): 266,800 steps in all.

  aigc train --config configs/cyclegan_horse2zebra.py --workdir runs/horse2zebra \
      --config.data.download=True       # first run only: fetches the dataset (needs network)
  aigc translate --workdir runs/horse2zebra --input horse.jpg --out zebra.png
  aigc eval --workdir runs/horse2zebra [--metrics fid --inception-weights W]

Other `cycle_gan/*` datasets (monet2photo, summer2winter_yosemite, ...) need only
`--config.data.name` and `--config.steps_per_epoch` (the larger train split's size).
The config keys are described in docs/cyclegan.md.
"""

import ml_collections

from aigc_jax.configs import common


def get_config():
  config = common.get_config()
  config.task = "cyclegan"
  config.batch_size = 1
  config.log_every = 100
  config.sample_every = 5000
  config.checkpoint_every = 5000
  config.num_grid_samples = 4

  # Learning-rate schedule in epochs of `steps_per_epoch` steps; num_steps follows it
  # unless overridden.
  config.n_epochs = 100
  config.n_epochs_decay = 100
  config.steps_per_epoch = 1334
  config.num_steps = ((config.get_ref("n_epochs") + config.get_ref("n_epochs_decay"))
                      * config.get_ref("steps_per_epoch"))

  config.data = ml_collections.ConfigDict()
  config.data.source = "tfds"  # "tfds", "folder" or "photos".
  config.data.name = "cycle_gan/horse2zebra"
  config.data.data_dir = ml_collections.config_dict.placeholder(str)
  config.data.download = False
  config.data.path = ""  # The folder of source "folder": trainA/, trainB/, [testA/, testB/].
  config.data.load_size = 286
  config.data.crop_size = 256
  config.data.flip = True

  config.model = ml_collections.ConfigDict()
  config.model.ngf = 64
  config.model.ndf = 64
  config.model.n_blocks = 9  # The paper: 9 for 256x256, 6 for 128x128 and smaller.
  config.model.n_layers_d = 3  # 3: the 70x70 PatchGAN.

  config.loss = ml_collections.ConfigDict()
  config.loss.lambda_a = 10.0
  config.loss.lambda_b = 10.0
  config.loss.lambda_identity = 0.5
  config.pool_size = 50

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.lr = 2e-4
  config.optimizer.b1 = 0.5
  config.optimizer.b2 = 0.999
  return config
