"""Intra-class FID: the FID of each class's samples against that class's real images.

For a class-conditional generator, FID over all samples cannot tell a model that draws
every class well from one that draws each class as some other class (the mixture can
still match). Intra-class FID (Miyato & Koyama, 2018; StudioGAN's "IFID") fits one
Gaussian per class to the real features and one to the generated features *of that
class*, and reports each class's Fréchet distance and their unweighted mean.

Each class has far fewer samples than a whole set, so each term is more biased upwards
(FID shrinks with N): compare intra-class FIDs only at equal per-class counts.
"""

from collections.abc import Mapping

import numpy as np

from aigc_jax.errors import UserError
from aigc_jax.metrics.fid import FeatureStats, frechet_distance


def features_by_class(features, labels) -> dict:
  """Splits features [N, D] by integer labels [N] into {label: features [n_label, D]}.

  Keys are Python ints in ascending order; rows keep their input order.
  """
  features, labels = np.asarray(features), np.asarray(labels).reshape(-1)
  if features.ndim != 2 or features.shape[0] != labels.shape[0]:
    raise ValueError(f"features [N, D] and labels [N] must agree, got {features.shape} "
                     f"and {labels.shape}")
  return {int(c): features[labels == c] for c in np.unique(labels)}


def _mean_cov(value, label, which):
  """(mu, sigma) from features [n, D], a FeatureStats or a (mu, sigma) pair."""
  if isinstance(value, FeatureStats):
    stats = value
  elif isinstance(value, tuple) and len(value) == 2:
    return np.asarray(value[0], np.float64), np.asarray(value[1], np.float64)
  else:
    stats = FeatureStats().update(value)
  if stats.count < 2:
    raise UserError(f"intra-class FID: class {label!r} has {stats.count} {which} sample(s); "
                    "each class needs at least 2")
  return stats.mean_cov()


def intra_class_fid(features_by_class_real: Mapping, features_by_class_fake: Mapping
                    ) -> tuple[float, dict]:
  """Intra-class FID of a conditional generator.

  Args:
    features_by_class_real: {class: real features [n_c, D]} (or a FeatureStats, or a
      (mu, sigma) pair, per class), e.g. from features_by_class(pool3, labels).
    features_by_class_fake: {class: generated features [m_c, D]} (same forms), the
      samples generated *for* that class. Both must have the same classes.

  Returns:
    (mean over classes, {class: FID of that class}), Python floats.
  """
  real_classes, fake_classes = set(features_by_class_real), set(features_by_class_fake)
  if real_classes != fake_classes:
    raise UserError(
        f"intra-class FID needs the same classes on both sides: only real "
        f"{sorted(real_classes - fake_classes)}, only generated "
        f"{sorted(fake_classes - real_classes)}")
  if not real_classes:
    raise UserError("intra-class FID: no classes given")
  per_class = {}
  for label in sorted(real_classes):
    mu_r, sigma_r = _mean_cov(features_by_class_real[label], label, "real")
    mu_f, sigma_f = _mean_cov(features_by_class_fake[label], label, "generated")
    per_class[label] = frechet_distance(mu_f, sigma_f, mu_r, sigma_r)
  return float(np.mean(list(per_class.values()))), per_class
