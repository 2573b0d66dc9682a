r"""MLP VAE on binarized MNIST (tfds `binarized_mnist`, Larochelle's fixed binarization),
Bernoulli decoder: the model of Flax's VAE example (examples/vae).

Flax's example uses one hidden layer of 500 ReLU units in encoder and decoder, 20
latents, Adam 1e-3 and batch 128; the task brief for this config cites its test loss as
~104 nats after 10 epochs. 10 epochs of the 50,000 training images at batch 128 are
3,910 steps. The data are stored as 0/1, so `binarize_threshold = 1`.

  aigc train --config configs/vae_binarized_mnist.py --workdir runs/vae_binarized_mnist \
      --config.data.download=True
  aigc eval --workdir runs/vae_binarized_mnist

Not reproduced here: binarized_mnist cannot be downloaded on the machine where this
library was developed. `test_nelbo` is the quantity the Flax example reports as its test
loss; `test_iwae_nll` (k = 1000 here, as in Burda et al.) is a tighter estimate.
"""

import ml_collections

from aigc_jax.configs import common, vae_digits


def get_config(variant: str = ""):
  """`variant` "smoke" shrinks the model and steps for tests."""
  config = vae_digits.get_config()
  config.num_steps = 3910
  config.batch_size = 128
  config.sample_every = 1000
  config.checkpoint_every = 1000
  config.data.name = "binarized_mnist"
  config.data.resolution = 28
  config.data.channels = 1

  config.model = ml_collections.ConfigDict()  # The MLP takes no conv options.
  config.model.name = "mlp"
  config.model.latent_dim = 20
  config.model.hidden = (500,)
  config.model.num_classes = 0  # binarized_mnist has no labels.

  config.likelihood.name = "bernoulli"
  config.likelihood.binarize_threshold = 1  # Stored as 0/1.
  config.eval.iwae_samples = 1000
  config.eval.iwae_chunk = 50
  return common.apply_variants(config, variant, vae_digits.CATALOG_VARIANTS)
