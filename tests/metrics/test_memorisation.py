"""The memorised share against a brute-force numpy reference and on constructed cases."""

import numpy as np
import pytest

from aigc_jax.metrics import memorisation as mem


def brute_force(train, samples):
  """The definition on full float64 distance matrices: per sample, is the distance to its
  nearest training image below that image's distance to its nearest other one?"""
  train, samples = train.astype(np.float64), samples.astype(np.float64)
  dist = lambda a, b: np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
  d_tt = dist(train, train)
  np.fill_diagonal(d_tt, np.inf)
  radius = d_tt.min(1)
  d_st = dist(samples, train)
  nearest = d_st.argmin(1)
  return d_st.min(1) < radius[nearest], nearest, d_st.min(1), radius[nearest]


def features(seed, n, d=12, scale=1.0, shift=0.0):
  return (shift + scale * np.random.default_rng(seed).normal(size=(n, d))).astype(np.float32)


# Blocks of 5 x 20 distances (tiny: many row and column blocks, a diagonal split across
# blocks) and the default (one block).
BLOCKS = [8 * 5 * 20, mem.BLOCK_BYTES]


@pytest.mark.parametrize("block_bytes", BLOCKS)
def test_matches_the_brute_force_definition(block_bytes):
  train = features(0, 60)
  # Samples spread from near-copies to far away, so both outcomes occur.
  samples = np.concatenate([train[:25] + features(1, 25, scale=0.3), features(2, 40, scale=1.5)])
  got = mem.memorisation(train, samples, block_bytes=block_bytes)
  memorised, nearest, distance, radius = brute_force(train, samples)
  np.testing.assert_array_equal(got.memorised, memorised)
  np.testing.assert_array_equal(got.nearest, nearest)
  np.testing.assert_allclose(got.distance, distance, rtol=1e-12)
  np.testing.assert_allclose(got.train_distance, radius, rtol=1e-12)
  assert got.share == pytest.approx(memorised.mean(), abs=0) and 0.1 < got.share < 0.9
  assert mem.memorised_share(train, samples, block_bytes) == got.share


@pytest.mark.parametrize("block_bytes", BLOCKS)
def test_nearest_other_neighbour_excludes_only_the_image_itself(block_bytes):
  train = features(3, 61)  # With the tiny blocks: 40 columns, so the diagonal crosses blocks.
  train[50] = train[7]  # An exact duplicate is a neighbour at distance 0.
  index, distance = mem.nearest_neighbours(train, train, exclude_self=True, block_bytes=block_bytes)
  d = np.sqrt(((train[:, None].astype(np.float64) - train[None]) ** 2).sum(-1))
  np.fill_diagonal(d, np.inf)
  assert index[7] == 50 and index[50] == 7 and distance[7] == 0 == distance[50]
  np.testing.assert_array_equal(index, d.argmin(1))
  np.testing.assert_allclose(distance, d.min(1), rtol=1e-12)
  assert np.all(index != np.arange(len(train)))


def test_copies_of_training_images_are_all_memorised():
  train = features(4, 50, d=128, scale=10, shift=50)  # Far from the origin: |x|^2 >> d^2.
  copies = train[np.random.default_rng(5).integers(0, 50, 80)]
  got = mem.memorisation(train, copies)
  assert got.share == 1.0 and np.all(got.distance == 0)


def test_a_copy_of_a_duplicated_training_image_is_not_memorised():
  train = features(6, 30)
  train[3] = train[11]
  got = mem.memorisation(train, train[[3, 11, 5]])
  np.testing.assert_array_equal(got.memorised, [False, False, True])


def test_far_away_points_are_never_memorised():
  train = features(7, 40)
  assert mem.memorised_share(train, features(8, 30, shift=100.0)) == 0.0


def test_near_copies_against_a_fresh_draw_of_the_same_distribution():
  train, samples, test = features(9, 200), features(10, 100, scale=0.02) + features(9, 200)[:100], features(11, 100)
  share, reference = mem.memorised_shares(train, samples, test)
  assert share == 1.0
  assert reference == mem.memorised_share(train, test) and 0.1 < reference < 0.7


def test_ties_pick_the_lowest_index():
  train = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [10.0, 10.0]])
  # Equidistant (1.0) from training images 0 and 1.
  index, distance = mem.nearest_neighbours(np.array([[1.0, 0.0]]), train, block_bytes=8)
  assert index[0] == 0 and distance[0] == 1.0


def test_bad_shapes_are_errors():
  with pytest.raises(ValueError, match="dimensions"):
    mem.memorisation(features(0, 5, d=3), features(0, 5, d=4))
  with pytest.raises(ValueError, match="at least 2 keys"):
    mem.nearest_neighbours(features(0, 1), features(0, 1), exclude_self=True)
