"""The PyTorch reference of Inception feature extraction: pytorch-fid's own network.

Random weights are fine for timing (the cost of a forward pass does not depend on their
values) and for checking that two implementations compute the same features, once the
BatchNorm statistics are calibrated (`calibrate`): with unit statistics the features of
a random network hardly depend on the input. Needs torch, torchvision and pytorch-fid
(the `bench` extra).
"""

import contextlib

import numpy as np


def pytorch_fid_inception():
  """pytorch-fid's InceptionV3 wrapper (resize + normalize on) with random weights.

  Built by pytorch-fid's own fid_inception_v3(), with its weight download replaced by the
  state dict of the model being built, so nothing is fetched. Returns (wrapper, net):
  wrapper(x [N, 3, H, W] in [0, 1]) -> [pool3 [N, 2048, 1, 1]]; net the full Inception3,
  whose `fc` is the 1008-way head.
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


def calibrate(wrapper, net, batches, seed: int | None = 0) -> None:
  """Randomises the BatchNorm affine parameters and sets the running statistics to those
  of `batches` (uint8 [N, H, W, 3] arrays, one train-mode pass each, averaged
  cumulatively), in place, so that features depend on the input. `seed` seeds torch
  first; None keeps torch's generator where it is (after the weights were drawn)."""
  import torch
  if seed is not None:
    torch.manual_seed(seed)
  with torch.no_grad():
    for m in net.modules():
      if isinstance(m, torch.nn.BatchNorm2d):
        m.weight.uniform_(0.5, 1.5)
        m.bias.normal_(0, 0.2)
        m.reset_running_stats()
        m.momentum = None  # A cumulative average over the calibration passes.
    wrapper.train()
    for images in batches:
      wrapper(_to_torch(images, next(net.parameters()).device))
    wrapper.eval()


def state_dict_numpy(net) -> dict:
  """The network's state dict as numpy arrays (for inception.params_from_torch_state_dict)."""
  return {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}


@contextlib.contextmanager
def full_float32():
  """No TF32 in CUDA convolutions and matrix products (PyTorch allows it in convolutions
  by default): the float32 'highest' precision that FID parity needs, as the JAX port
  uses. Restores the previous settings on exit."""
  import torch
  saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
  torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
  try:
    yield
  finally:
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _to_torch(images: np.ndarray, device):
  import torch
  x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
  return x.permute(0, 3, 1, 2).float() / 255  # As torchvision's ToTensor.


def pool3_fn(wrapper, batch_size: int = 50):
  """images uint8 [N, H, W, 3] -> pool3 float32 numpy [N, 2048], with pytorch-fid's input
  path, in full float32, `batch_size` images at a time."""
  import torch
  device = next(wrapper.parameters()).device

  def run(images):
    out = []
    with torch.no_grad(), full_float32():
      for i in range(0, len(images), batch_size):
        out.append(wrapper(_to_torch(images[i:i + batch_size], device))[0].flatten(1).cpu().numpy())
    return np.concatenate(out)

  return run
