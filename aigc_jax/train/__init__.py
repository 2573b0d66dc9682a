"""Training: the family kit, each family's options and pure train step, the generic loop.

The kit (what families share): `task` (the `Task` protocol, `RunOptions`, the registry,
`parse_config`), `adversarial` (the D-then-G update, optimizer pairs, EMA), `keys` (the
named random streams), `chunked` (inference in chunks of one shape), `precision`.
The families: `gan`, `vae`, `cyclegan`, `restoration`, `pix2pix`, `diffusion` (with `edm`,
EDM's formulas and samplers), `text_encoder` and `text2img`. The loop and its services:
`loop` (`train_and_evaluate`), `checkpoint`, `sharding`, `writer`, `workdir`,
`interrupts`, `image_pool`.
"""

from aigc_jax._exports import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "train_and_evaluate": "aigc_jax.train.loop",
    "parse_config": "aigc_jax.train.task",
    "get_task": "aigc_jax.train.task",
    "Task": "aigc_jax.train.task",
    "RunOptions": "aigc_jax.train.task",
    **{m: f"aigc_jax.train.{m}" for m in ("task", "adversarial", "keys", "chunked", "precision", "gan", "vae",
                                         "cyclegan", "restoration", "pix2pix", "diffusion", "edm",
                                         "text_encoder", "text2img", "loop", "checkpoint", "sharding",
                                         "writer", "workdir", "interrupts", "image_pool")},
})
