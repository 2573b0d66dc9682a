"""aigc_jax: image generative models in JAX/Flax, built for speed and honest measurement.

Everything is one hop from here (imported on first use):
`aigc_jax.models` (Flax modules only), `losses`, `data` (datasets, input pipelines),
`train` (the family kit, the families' train steps, the generic loop, checkpoints),
`inference` (load a trained run and sample, translate, restore with it), `evaluation`
(what `aigc eval` reports), `metrics` (FID / IS / KID and more), `restoration` (masks,
non-local means, PSNR / SSIM), `crf`, `configlib` (config files), `cli` (the `aigc`
command). `enable_compilation_cache()` keeps compiled programs on disk, as `aigc` does.
"""

__version__ = "0.1.0"

from aigc_jax import cpu_flags as _cpu_flags

_cpu_flags.apply()  # Before JAX starts its backend; see aigc_jax/cpu_flags.py.

from aigc_jax._exports import exports as _exports  # noqa: E402

_SUBPACKAGES = ("models", "losses", "data", "train", "inference", "evaluation", "metrics",
                "restoration", "crf", "configlib", "cli", "images", "options")
__all__, __getattr__, __dir__ = _exports(__name__, {
    **{name: f"aigc_jax.{name}" for name in _SUBPACKAGES},
    "enable_compilation_cache": "aigc_jax.cache",
})
