"""images_metrics' k-NN metrics and intra-class FID: what `aigc eval` will call.

The network and the distance are the cheap stand-ins of conftest's fake_network; the
metrics themselves are tested against their references in test_prdc / test_intra_fid.
"""

import numpy as np
import pytest

from aigc_jax.errors import UserError
from aigc_jax.metrics import (features_by_class, images_metrics, intra_class_fid,
                              knn_metrics)


@pytest.fixture(scope="module")
def data(make_images):
  images, ref = make_images(30, 12, 16, 16), make_images(31, 14, 16, 16)
  return images, np.arange(12) % 2, ref, np.arange(14) % 2


def test_knn_metrics_and_intra_fid(data, fake_network, fake_features):
  images, labels, ref, ref_labels = data
  names = ("precision", "recall", "density", "coverage", "intra_fid")
  got = images_metrics(images, metrics=",".join(names), weights_path=fake_network,
                       ref_images=ref, labels=labels, ref_labels=ref_labels, batch_size=5,
                       progress=False)
  want = knn_metrics(fake_features(ref), fake_features(images), 3, 5)
  for name in ("precision", "recall", "density", "coverage"):
    assert got[name] == pytest.approx(getattr(want, name)), name
  mean, per_class = intra_class_fid(features_by_class(fake_features(ref), ref_labels),
                                    features_by_class(fake_features(images), labels))
  assert got["intra_fid"] == pytest.approx(mean, rel=1e-6)
  assert got["intra_fid_per_class"].keys() == {"0", "1"}
  assert got["intra_fid_per_class"]["1"] == pytest.approx(per_class[1], rel=1e-6)
  assert got["num_images"] == 12


def test_what_each_metric_needs(data, fake_network, tmp_path):
  images, labels, ref, _ = data
  with pytest.raises(UserError, match="precision needs reference images"):
    images_metrics(images, metrics="precision", weights_path=fake_network,
                   ref_path=tmp_path / "ref.npz")
  with pytest.raises(UserError, match="intra_fid needs the class labels"):
    images_metrics(images, metrics="intra_fid", weights_path=fake_network, ref_images=ref,
                   labels=labels)
  with pytest.raises(UserError, match="unknown metrics"):
    images_metrics(images, metrics="fid,sharpness", weights_path=fake_network,
                   ref_images=ref)
