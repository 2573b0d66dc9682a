"""Shared fixtures: input-dependent random Inception weights, in JAX and in PyTorch.

Random weights with unit BatchNorm statistics make features that barely depend on the
input (spread across images ~3e-8 after ~95 layers), so a comparison of such features
proves nothing. Both fixtures therefore calibrate the BN running statistics on random
images first, as training would, which keeps the signal alive through the network.
"""

import numpy as np
import pytest

from aigc_jax.bench import torch_inception
from aigc_jax.metrics import inception

# One batch size throughout, so the network compiles once per test process.
BATCH = 2


def random_images(seed, n, h, w, c=3):
  """Uniform random uint8 images [n, h, w, c]."""
  return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


@pytest.fixture(scope="session")
def make_images():
  """The random_images function, for test modules (tests/ is not a package)."""
  return random_images


@pytest.fixture(scope="session")
def batch():
  return BATCH


@pytest.fixture(scope="session")
def jax_variables():
  """FIDInceptionV3 variables: random weights, BN statistics calibrated on 4 images."""
  variables = inception.init_variables(seed=0)
  return inception.calibrate_batch_stats(variables, random_images(100, 4, 64, 64))


@pytest.fixture(scope="session")
def jax_weights_file(jax_variables, tmp_path_factory):
  path = tmp_path_factory.mktemp("weights") / "inception.safetensors"
  inception.save_params(jax_variables, path)
  return path


@pytest.fixture(scope="session")
def torch_reference():
  """pytorch-fid's InceptionV3 (resize + normalize on), random but calibrated weights.

  Built by pytorch-fid's own fid_inception_v3(), its weight download replaced by the state
  dict of the model being built (torch_inception.pytorch_fid_inception), so nothing is fetched and
  every module is pytorch-fid's; torch's default init draws the weights. The BN affine
  parameters are then randomised and the running statistics recomputed with cumulative
  averaging (momentum=None) over train-mode passes on random images.

  Returns (wrapper, fc, state_dict): wrapper(x [N,3,H,W] in [0,1]) -> [pool3 N,2048,1,1];
  fc the 1008-way head; state_dict as numpy arrays.
  """
  torch = pytest.importorskip("torch")
  pytest.importorskip("pytorch_fid.inception")
  torch.manual_seed(0)
  wrapper, net = torch_inception.pytorch_fid_inception()
  torch_inception.calibrate(wrapper, net, [random_images(seed, 3, 80, 80) for seed in (200, 201)],
                            seed=None)
  state_dict = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
  return wrapper, net.fc, state_dict


@pytest.fixture(scope="session")
def reference_features(torch_reference):
  """images -> (pool3, logits) of the PyTorch reference."""
  return lambda images: torch_features(torch_reference, images)


def to_torch(images):
  """uint8 NHWC -> float NCHW in [0, 1], as torchvision's ToTensor in pytorch-fid."""
  import torch
  return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous().float() / 255


def torch_features(reference, images):
  """pool3 and logits of the reference for uint8 NHWC images (grey repeated to RGB)."""
  import torch
  wrapper, fc, _ = reference
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  with torch.no_grad():
    pool3 = wrapper(to_torch(images))[0].flatten(1)
    return pool3.numpy(), fc(pool3).numpy()


# The image size of the cheap tests (as test_features, so a resize compiles once).
SIZE = 16

_PROJECTION = np.random.default_rng(0).normal(size=(SIZE * SIZE * 3, 2048)).astype(np.float32)


def fake_pool3(images):
  """uint8 [N, H, W, C] -> float32 [N, 2048]: the first 16*16*3 pixel values (zero-padded
  for smaller images), projected linearly."""
  flat = images.reshape(images.shape[0], -1).astype(np.float32)[:, :_PROJECTION.shape[0]]
  flat = np.pad(flat, ((0, 0), (0, _PROJECTION.shape[0] - flat.shape[1])))
  return flat / 255 @ _PROJECTION


@pytest.fixture(scope="session")
def fake_features():
  """The fake_pool3 function: uint8 [N, 16, 16, 3] -> float32 [N, 2048], linear."""
  return fake_pool3


def cheap_distance(mu1, sigma1, mu2, sigma2):
  """Stands in for frechet_distance (tested in test_fid.py): depends on all four."""
  return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) - 0.5 * np.trace(sigma2))


@pytest.fixture
def fake_network(monkeypatch, tmp_path):
  """Replaces the Inception forward pass by fake_pool3 (same streaming interface) and
  loading the weights by nothing; returns a stand-in weights file."""
  from aigc_jax.metrics import compare, images, inception, intra_fid

  def features(variables, source, batch_size, resize, progress=False, total=None):
    for batch in inception._rebatch(source, batch_size):
      yield fake_pool3(batch), np.zeros((batch.shape[0], 1008), np.float32)

  monkeypatch.setattr(inception, "iter_inception_features", features)
  monkeypatch.setattr(inception, "load_params", lambda path: {})
  for module in (compare, images, intra_fid):
    monkeypatch.setattr(module, "frechet_distance", cheap_distance)
  weights = tmp_path / "fake.safetensors"
  weights.write_bytes(b"fake weights")
  return weights


@pytest.fixture(autouse=True)
def no_stats_cache(monkeypatch):
  """Tests never read or write the user's statistics cache; a test that wants one sets
  AIGC_STATS_CACHE_DIR to a temporary folder itself."""
  monkeypatch.setenv("AIGC_STATS_CACHE_DIR", "")
