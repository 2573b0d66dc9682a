"""`aigc ARGS` with a stand-in for the Inception network, for the multi-process tests.

    python tests/distributed/fake_inception_cli.py stats --data digits ... --inception-weights ANY_FILE

The real network costs about 40 s per process here (compiling it and running 299x299
images on a loaded 2-core machine), too much for tests/distributed's budget; what these
tests check is how the images are split over processes and the features and statistics
brought together, which does not depend on the network. The stand-in keeps Inception's
streaming interface and shapes: pool3 [b, 2048] is a fixed random projection of the
first 8 x 8 x 3 pixel values (zero-padded), the logits [b, 1008] another projection
of pool3; both differ from image to image, so IS, KID and the memorised share are
figures that depend on every image. The Fréchet distance is replaced too
(`cheap_distance`).
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

_PIXELS = 8 * 8 * 3
_POOL3 = np.random.default_rng(0).normal(size=(_PIXELS, 2048)).astype(np.float32)
_LOGITS = np.random.default_rng(1).normal(size=(2048, 1008)).astype(np.float32) / 64


def fake_features(images):
  """uint8 [N, H, W, C] -> (pool3 [N, 2048], logits [N, 1008]) float32."""
  flat = images.reshape(images.shape[0], -1).astype(np.float32)[:, :_PIXELS] / 255
  pool3 = np.pad(flat, ((0, 0), (0, _PIXELS - flat.shape[1]))) @ _POOL3
  return pool3, pool3 @ _LOGITS


def cheap_distance(mu1, sigma1, mu2, sigma2):
  """Stands in for the Fréchet distance (two 2048 x 2048 eigendecompositions, seconds
  each here, in every process): a figure of all four statistics."""
  return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) - 0.5 * np.trace(sigma2) + np.abs(sigma1 - sigma2).sum())


def install(setattr=setattr):
  """Puts the stand-ins in place (`setattr`: pytest's monkeypatch.setattr in-process)."""
  from aigc_jax.metrics import images, inception

  def iter_inception_features(variables, source, batch_size=50, resize="pytorch", progress=False, total=None):
    for batch in inception._rebatch(source, batch_size):
      yield fake_features(batch)

  setattr(inception, "iter_inception_features", iter_inception_features)
  setattr(inception, "load_params", lambda path: {})
  # IS reads the bias-free logits through the network's head: the stand-in's are final.
  setattr(inception, "unbiased_logits", lambda variables, logits: np.asarray(logits))
  setattr(images, "frechet_distance", cheap_distance)


if __name__ == "__main__":
  install()
  from aigc_jax.cli.main import main
  sys.exit(main(sys.argv[1:]))
