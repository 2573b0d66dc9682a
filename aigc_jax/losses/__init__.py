"""Losses as functions over arrays, returning per-example values for the caller to reduce.

`adversarial`: the GAN losses by name (`LOSSES`, `get_loss`), WGAN-GP's gradient penalty,
R1, and CycleGAN's least-squares patch losses and L1. `likelihood`: the VAE's pixel
likelihoods by name (`LIKELIHOODS`, `get_likelihood`), the Gaussian KL, ELBO and IWAE.
"""

from aigc_jax._exports import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    **dict.fromkeys(("LOSSES", "GANLoss", "get_loss", "gradient_penalty", "l1", "lsgan_patch_d_loss",
                     "lsgan_patch_g_loss", "per_example_mean", "r1_penalty"), "aigc_jax.losses.adversarial"),
    **dict.fromkeys(("LIKELIHOODS", "Likelihood", "LikelihoodOptions", "bernoulli_log_likelihood",
                     "discretized_gaussian_log_likelihood", "discretized_logistic_log_likelihood",
                     "gaussian_kl", "gaussian_log_density", "get_likelihood", "iwae_log_likelihood",
                     "negative_elbo", "reparameterize"), "aigc_jax.losses.likelihood"),
    "adversarial": "aigc_jax.losses.adversarial",
    "likelihood": "aigc_jax.losses.likelihood",
})
