"""The word-level tokenizer: normalisation, round trip, unknown words, padding."""

import numpy as np

from aigc_jax.text import tokenizer


def test_words_lower_case_and_split_numerals_from_punctuation():
  assert tokenizer.words("7, thin and Upright.") == ["7", "thin", "and", "upright"]
  assert tokenizer.words("a7-b") == ["a", "7", "b"]


def test_build_orders_by_frequency_then_alphabetically():
  tok = tokenizer.build(["b a", "a c", "a b"])
  assert tok.vocab == ("a", "b", "c")
  assert tok.size == 5  # PAD and UNK first.
  assert tokenizer.build(["x y", "x"], min_count=2).vocab == ("x",)


def test_round_trip_of_known_words():
  tok = tokenizer.build(["a thick seven leaning right", "7, thin and upright"])
  for text in ("a thick seven leaning right", "7, Thin and UPRIGHT!", "right seven a"):
    ids, unknown, dropped = tok.encode(text, 8)
    assert unknown == [] and dropped == 0
    assert ids.dtype == np.int32 and ids.shape == (8,)
    assert tok.decode(ids) == " ".join(tokenizer.words(text))


def test_unknown_words_become_unk_and_are_named():
  tok = tokenizer.build(["a thick seven"])
  ids, unknown, _ = tok.encode("a fat seven, rather fat", 8)
  assert unknown == ["fat", "rather", "fat"]
  assert tok.decode(ids) == "a <unk> seven <unk> <unk>"
  assert list(ids[5:]) == [0, 0, 0]


def test_long_texts_are_cut_and_counted():
  tok = tokenizer.build(["a b c d"])
  ids, _, dropped = tok.encode("a b c d a", 3)
  assert tok.decode(ids) == "a b c" and dropped == 2
  np.testing.assert_array_equal(tok.encode_batch(["a", "b c"], 3), [[2, 0, 0], [3, 4, 0]])
