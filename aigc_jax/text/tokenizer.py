"""A word-level tokenizer built from the training captions of a run.

Why word-level: the captions these models learn from are short descriptions with a
small vocabulary (a few dozen words for the captioned digits, a few thousand for a
typical image-text folder), so whole words are the units the text encoder should
learn; a byte-level tokenizer would spend the encoder's capacity on spelling.

Normalisation (`words`): the text is lower-cased and split into runs of letters and
runs of digits; everything else (spaces, punctuation) separates words and is dropped.
So "7, thin and Upright." is the words ["7", "thin", "and", "upright"], and a numeral
is a word of its own ("a 7" and "a7" are the same two words).

Ids: 0 is the padding `PAD`, 1 the unknown word `UNK`, then the vocabulary in its
stored order (most frequent first, ties alphabetical, so that it is deterministic).
The vocabulary is a tuple of strings stored in the run's config (config.json), which is
all sampling needs to rebuild the tokenizer.
"""

import collections
import functools
import re
from typing import Iterable, NamedTuple

import numpy as np

PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[a-z]+|[0-9]+")


def words(text: str) -> list[str]:
  """The normalised words of `text`: lower-cased runs of letters or of digits."""
  return _WORD.findall(text.lower())


class Tokenizer(NamedTuple):
  """Word <-> id for one vocabulary (`vocab`: the words, without PAD and UNK)."""
  vocab: tuple[str, ...]

  @property
  def size(self) -> int:
    """The number of ids, PAD and UNK included."""
    return len(self.vocab) + 2

  @property
  def _index(self) -> dict:
    return _index(self.vocab)

  def encode(self, text: str, max_len: int) -> tuple[np.ndarray, list[str], int]:
    """`text` -> (int32 ids [max_len], unknown words in order, words dropped past max_len).

    Words outside the vocabulary become UNK (and are returned, so callers can name
    them); the ids are padded with PAD (0) after the last word.
    """
    index = self._index
    ws = words(text)
    ids = np.zeros(max_len, np.int32)
    unknown = [w for w in ws if w not in index]
    kept = ws[:max_len]
    ids[:len(kept)] = [index.get(w, 1) for w in kept]
    return ids, unknown, len(ws) - len(kept)

  def encode_batch(self, texts: Iterable[str], max_len: int) -> np.ndarray:
    """Texts -> int32 ids [N, max_len] (unknown words as UNK, long texts cut)."""
    texts = list(texts)
    out = np.zeros((len(texts), max_len), np.int32)
    for i, t in enumerate(texts):
      out[i] = self.encode(t, max_len)[0]
    return out

  def decode(self, ids) -> str:
    """Ids -> the words joined by single spaces (PAD dropped, UNK written as <unk>)."""
    table = (PAD, UNK) + self.vocab
    return " ".join(table[int(i)] for i in np.asarray(ids).reshape(-1) if int(i) != 0)


@functools.lru_cache(maxsize=8)
def _index(vocab: tuple[str, ...]) -> dict:
  return {w: i + 2 for i, w in enumerate(vocab)}


def build(captions: Iterable[str], min_count: int = 1) -> Tokenizer:
  """The tokenizer of every word seen at least `min_count` times in `captions`."""
  counts = collections.Counter(w for c in captions for w in words(c))
  ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
  return Tokenizer(tuple(w for w, n in ranked if n >= min_count))
