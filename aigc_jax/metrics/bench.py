"""Throughput of Inception feature extraction: this port against pytorch-fid.

Timings are taken interleaved (A, B, A, B, ...) on the same images in one process, so
both implementations see the same machine state (clocks, caches, other load). Random
weights are fine: the cost of a forward pass does not depend on their values.
"""

import time

import numpy as np


def jax_pool3_fn(variables, batch_size: int = 50, resize: str = "pytorch"):
  """images uint8 [N, H, W, C] -> pool3 numpy, with this library's inception_features."""
  from aigc_jax.metrics.inception import inception_features
  return lambda images: inception_features(variables, images, batch_size, resize)[0]


def pytorch_fid_inception():
  """pytorch-fid's InceptionV3 wrapper (resize + normalize on) with random weights.

  Built by pytorch-fid's own fid_inception_v3(), with its weight download replaced by the
  state dict of the model being built, so nothing is fetched. Returns (wrapper, net):
  wrapper(x [N, 3, H, W] in [0, 1]) -> [pool3 [N, 2048, 1, 1]]; net the full Inception3,
  whose `fc` is the 1008-way head. Needs torch, torchvision and pytorch-fid.
  """
  import pytorch_fid.inception as pfi
  built = []
  real_builder, real_loader = pfi._inception_v3, pfi.load_state_dict_from_url

  def recording_builder(*args, **kwargs):
    built.append(real_builder(*args, **kwargs))
    return built[-1]

  pfi._inception_v3 = recording_builder
  pfi.load_state_dict_from_url = lambda *args, **kwargs: built[-1].state_dict()
  try:
    wrapper = pfi.InceptionV3([pfi.InceptionV3.DEFAULT_BLOCK_INDEX], resize_input=True,
                              normalize_input=True)
  finally:
    pfi._inception_v3, pfi.load_state_dict_from_url = real_builder, real_loader
  return wrapper.eval(), built[-1].eval()


def pytorch_fid_pool3_fn(batch_size: int = 50, device: str = "cpu"):
  """images uint8 [N, H, W, 3] -> pool3 numpy, with pytorch-fid's model and input path."""
  import torch
  wrapper = pytorch_fid_inception()[0].to(device)

  def run(images):
    out = []
    with torch.no_grad():
      for i in range(0, len(images), batch_size):
        x = torch.from_numpy(images[i:i + batch_size]).to(device)
        x = x.permute(0, 3, 1, 2).float() / 255  # as torchvision's ToTensor
        out.append(wrapper(x)[0].flatten(1).cpu().numpy())
    return np.concatenate(out)

  return run


def compare_throughput(fns: dict, images: np.ndarray, rounds: int = 3) -> dict:
  """Images per second of each fn(images) over `rounds` interleaved timed calls.

  Every fn runs once untimed first (compilation, allocator warm-up). Returns
  {name: [images/s of each round]}; each fn must return only when its work is done
  (numpy output guarantees that).
  """
  for fn in fns.values():
    fn(images)
  rates = {name: [] for name in fns}
  for _ in range(rounds):
    for name, fn in fns.items():
      start = time.perf_counter()
      fn(images)
      rates[name].append(len(images) / (time.perf_counter() - start))
  return rates


def inception_images_per_second(variables, images, batch_size: int = 50,
                                rounds: int = 3) -> float:
  """Median images/s of this port's pool3 extraction on `images` (after one warm-up)."""
  rates = compare_throughput({"jax": jax_pool3_fn(variables, batch_size)}, images, rounds)
  return float(np.median(rates["jax"]))
