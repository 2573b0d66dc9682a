"""Flax Linen modules: each computes its output and nothing else (no losses, no training).

One family per module: `dcgan` (Generator, Discriminator), `vae` (conv and MLP VAEs),
`cyclegan` (ResnetGenerator), `patchgan` (PatchDiscriminator), `restoration`
(RestorationNet), `unet` (the pix2pix U-Net), `diffusion` (the EDM U-Net), `text` (the
text and image encoders of text conditioning); shared layers in `layers`, `upsample`,
`downsample`.
"""

from aigc_jax._exports import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "Generator": "aigc_jax.models.dcgan",
    "Discriminator": "aigc_jax.models.dcgan",
    "VAE": "aigc_jax.models.vae",
    "ResnetGenerator": "aigc_jax.models.cyclegan",
    "PatchDiscriminator": "aigc_jax.models.patchgan",
    "RestorationNet": "aigc_jax.models.restoration",
    **{m: f"aigc_jax.models.{m}" for m in ("dcgan", "vae", "cyclegan", "patchgan", "restoration", "unet",
                                          "diffusion", "text", "layers", "upsample", "downsample")},
})
