"""Intra-class FID against per-class frechet_distance calls."""

import numpy as np
import pytest

from aigc_jax.errors import UserError
from aigc_jax.metrics import (FeatureStats, features_by_class, frechet_distance,
                              intra_class_fid)

D = 12


@pytest.fixture(scope="module")
def labelled():
  """Real and fake features of 3 classes; the fakes of class 2 are far off."""
  rng = np.random.default_rng(0)
  real_labels, fake_labels = rng.integers(0, 3, 150), np.arange(120) % 3
  centers = rng.normal(size=(3, D)) * 3
  real = centers[real_labels] + rng.normal(size=(150, D))
  shift = np.where(fake_labels == 2, 2.0, 0.0)[:, None]
  fake = centers[fake_labels] + shift + rng.normal(size=(120, D))
  return real, real_labels, fake, fake_labels


def test_matches_per_class_frechet_distances(labelled):
  real, real_labels, fake, fake_labels = labelled
  mean, per_class = intra_class_fid(features_by_class(real, real_labels),
                                    features_by_class(fake, fake_labels))
  want = {}
  for c in range(3):
    r, f = real[real_labels == c], fake[fake_labels == c]
    want[c] = frechet_distance(f.mean(0), np.cov(f, rowvar=False),
                               r.mean(0), np.cov(r, rowvar=False))
  assert per_class.keys() == want.keys()
  for c in want:
    assert per_class[c] == pytest.approx(want[c], rel=1e-10)
  assert mean == pytest.approx(np.mean(list(want.values())), rel=1e-10)
  # The shifted class dominates: a class-blind FID would not say which class is off.
  assert per_class[2] > 3 * max(per_class[0], per_class[1])


def test_accepts_statistics_per_class(labelled):
  real, real_labels, fake, fake_labels = labelled
  by_real, by_fake = features_by_class(real, real_labels), features_by_class(fake, fake_labels)
  stats = {c: FeatureStats().update(v) for c, v in by_real.items()}
  mu_sigma = {c: FeatureStats().update(v).mean_cov() for c, v in by_fake.items()}
  assert intra_class_fid(stats, mu_sigma)[0] == pytest.approx(
      intra_class_fid(by_real, by_fake)[0], rel=1e-10)


def test_classes_must_match_and_have_two_samples(labelled):
  real, real_labels, fake, fake_labels = labelled
  by_real = features_by_class(real, real_labels)
  with pytest.raises(UserError, match=r"only real \[2\]"):
    intra_class_fid(by_real, features_by_class(fake[fake_labels < 2], fake_labels[fake_labels < 2]))
  lonely = dict(features_by_class(fake, fake_labels))
  lonely[1] = lonely[1][:1]
  with pytest.raises(UserError, match="class 1 has 1 generated sample"):
    intra_class_fid(by_real, lonely)
