"""Encoder shapes and the masking of padding."""

import jax
import jax.numpy as jnp
import numpy as np

from aigc_jax.models import text


def test_text_encoder_shapes_and_padding_is_ignored():
  m = text.TextEncoder(vocab_size=12, max_len=6, width=16, depth=2, heads=2, embed_dim=8)
  tokens = jnp.array([[3, 4, 5, 0, 0, 0], [6, 0, 0, 0, 0, 0]], jnp.int32)
  variables = m.init(jax.random.key(0), tokens)
  words, sentence = m.apply(variables, tokens)
  assert words.shape == (2, 6, 16) and sentence.shape == (2, 8)
  # Whatever follows the first padding id is padding: changing it changes nothing.
  noisy = tokens.at[0, 4].set(9).at[1, 2].set(7).at[1, 5].set(11)
  words2, sentence2 = m.apply(variables, noisy)
  np.testing.assert_array_equal(sentence, sentence2)
  np.testing.assert_array_equal(words, words2)
  np.testing.assert_array_equal(words[0, 3:], 0.0)
  # But the words themselves, and their order, do matter.
  assert not np.allclose(m.apply(variables, tokens.at[0, 1].set(7))[1][0], sentence[0])
  assert not np.allclose(m.apply(variables, tokens.at[0, :3].set(jnp.array([5, 4, 3])))[1][0], sentence[0])


def test_image_encoder_shape():
  m = text.ImageEncoder(features=4, embed_dim=8)
  x = jnp.zeros((3, 16, 16, 1))
  variables = m.init(jax.random.key(0), x)
  assert m.apply(variables, x).shape == (3, 8)
