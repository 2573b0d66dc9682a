"""The named random streams of a run: one registry, so no two uses share a key.

Every key of a run is derived from its seed: `stream_key(seed, name)` is
`fold_in(key(seed), STREAMS[name])`. The loop's step `s` gets `fold_in(stream_key(seed,
"step"), s)`, so resuming needs no saved key; a family's train step may derive its own
sub-streams from its step key with `fold_in(key, STEP_SUBSTREAMS[name])`.
The numbers are part of what makes a seed reproduce a run bit for bit: never renumber
one, only add.
"""

import jax

STREAMS = {
    "init": 0,        # The train state's initial parameters.
    "step": 1,        # Folded with the step number: the key of each train step.
    "grid": 2,        # The fixed latents or test corruptions of the sample grids.
    "bounds": 3,      # VAE likelihood bounds in `aigc eval` (with the eval seed).
    "eval": 12345,    # What `aigc eval` generates or corrupts (with the eval seed).
}

# Sub-streams of a step's key, for what a step draws beyond its main draws.
STEP_SUBSTREAMS = {
    "options": 1,     # GAN options: critic updates, penalties, DiffAugment.
}


def stream_key(seed: int, name: str) -> jax.Array:
  """The key of stream `name` for `seed`."""
  return jax.random.fold_in(jax.random.key(seed), STREAMS[name])


def step_substream(step_key: jax.Array, name: str) -> jax.Array:
  """The key of sub-stream `name` of a train step's key."""
  return jax.random.fold_in(step_key, STEP_SUBSTREAMS[name])
