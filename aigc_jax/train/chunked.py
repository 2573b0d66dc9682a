"""Running a jitted function over many examples in chunks of one shape.

Inference over N examples runs `fn` on chunks of `chunk` examples; the last chunk is
padded (its last example repeated) to the same size, so every call has one shape and
`fn` compiles once, whatever N is; the padding's outputs are dropped. `fn` must treat
examples independently (no batch statistics), which every inference path here does.
"""

import jax
import numpy as np

from aigc_jax import distributed


def pad_to(a, size: int) -> np.ndarray:
  """[n, ...] -> [size, ...] with the last example repeated (n <= size, n >= 1)."""
  a = np.asarray(a)
  if len(a) == size:
    return a
  return np.concatenate([a, np.repeat(a[-1:], size - len(a), axis=0)])


def chunked_apply(fn, *arrays, chunk: int, multiple: int = 1):
  """`fn(*chunks)` over the first axis of `arrays` (None entries passed as None).

  Returns what `fn` returns (an array or a pytree of arrays) as numpy, concatenated over
  the N examples: exactly `fn(*arrays)` for a per-example `fn`, with one compilation.
  `multiple`: the chunk is rounded up to a multiple of it (a program sharded over that
  many devices takes whole rows per device), even when N is smaller.
  """
  if distributed.is_multiprocess():  # Each process computes its share; all get the whole.
    return distributed.chunked_apply(fn, *arrays, chunk=chunk)  # Rounds to all devices.
  n = len(next(a for a in arrays if a is not None))
  chunk = -(-max(1, min(chunk, n)) // multiple) * multiple
  outs = []
  for i in range(0, n, chunk):
    parts = [None if a is None else pad_to(a[i:i + chunk], chunk) for a in arrays]
    keep = min(chunk, n - i)
    outs.append(jax.tree.map(lambda x: np.asarray(x)[:keep], fn(*parts)))
  return jax.tree.map(lambda *xs: np.concatenate(xs), *outs)
