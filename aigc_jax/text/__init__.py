"""Text for text-conditioned generation: the tokenizer and the image-text losses.

`tokenizer`: a word-level tokenizer built from a run's training captions (`Tokenizer`,
`build`, `words`). `losses`: the symmetric contrastive image-text loss (CLIP / DAMSM
style), the matching-aware discriminator loss (GAN-CLS) and R-precision. Pure Python,
numpy and JAX: nothing here reads files or trains.
"""

from aigc_jax._exports import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    **dict.fromkeys(("PAD", "UNK", "Tokenizer", "build", "words"), "aigc_jax.text.tokenizer"),
    **dict.fromkeys(("contrastive_loss", "matching_aware_d_loss", "r_precision"), "aigc_jax.text.losses"),
    "tokenizer": "aigc_jax.text.tokenizer",
    "losses": "aigc_jax.text.losses",
})
