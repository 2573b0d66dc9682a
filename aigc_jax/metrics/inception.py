"""The FID Inception-v3 in Flax, its weights, and batched feature extraction.

The network is the graph pytorch-fid evaluates (`pytorch_fid.inception.fid_inception_v3`,
itself a port of TensorFlow's 2015-12-05 Inception used by the original FID code): the
torchvision Inception-v3 with 1008 classes and no aux head, where

  * the 3x3 average pools in Mixed_5b-d, Mixed_6b-e and Mixed_7b ignore the zero padding
    (count_include_pad=False, as TF's pooling does), and
  * Mixed_7c pools with a 3x3 max pool instead of an average pool.

Submodule names follow torchvision's (Mixed_5b/branch1x1/conv, .../bn), so converting a
PyTorch state dict is a rename plus a transpose. Images go in as uint8 NHWC; the pool3
features [N, 2048] feed FID/KID, the fc logits [N, 1008] (with bias) feed IS.

Everything runs under float32 with "highest" matmul precision: TF32 convolutions on
GPUs change features at the 1e-3 level, far more than parity with the reference needs.
"""

import functools
import os
from collections.abc import Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from aigc_jax.errors import UserError

INPUT_SIZE = 299
NUM_CLASSES = 1008
RESIZE_MODES = ("pytorch", "clean")
_PRECISION = jax.lax.Precision.HIGHEST


# --------------------------------------------------------------------------- network


class BasicConv(nn.Module):
  """Conv (no bias) -> BatchNorm(eps=1e-3) -> ReLU, torchvision's BasicConv2d.

  `batch_stats_from_input` normalizes with the batch's own statistics and records them
  (momentum 0); it exists to give randomly initialised weights sensible BN statistics in
  tests, never for evaluation.
  """
  features: int
  kernel: tuple[int, int]
  strides: int = 1
  padding: tuple[int, int] = (0, 0)
  batch_stats_from_input: bool = False

  @nn.compact
  def __call__(self, x):
    ph, pw = self.padding
    x = nn.Conv(self.features, self.kernel, strides=self.strides,
                padding=((ph, ph), (pw, pw)), use_bias=False, precision=_PRECISION,
                name="conv")(x)
    x = nn.BatchNorm(use_running_average=not self.batch_stats_from_input, momentum=0.0,
                     epsilon=1e-3, name="bn")(x)
    return nn.relu(x)


def _avg_pool_3x3(x):
  # TF's SAME average pool divides by the number of real (unpadded) pixels.
  return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)),
                     count_include_pad=False)


def _max_pool_3x3(x, stride=1):
  pad = ((1, 1), (1, 1)) if stride == 1 else "VALID"
  return nn.max_pool(x, (3, 3), strides=(stride, stride), padding=pad)


class InceptionA(nn.Module):
  """Mixed_5b-d: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1, 35x35."""
  pool_features: int
  calibrate: bool = False

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(BasicConv, batch_stats_from_input=self.calibrate)
    b1 = conv(64, (1, 1), name="branch1x1")(x)
    b5 = conv(48, (1, 1), name="branch5x5_1")(x)
    b5 = conv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
    b3 = conv(64, (1, 1), name="branch3x3dbl_1")(x)
    b3 = conv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
    b3 = conv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
    bp = conv(self.pool_features, (1, 1), name="branch_pool")(_avg_pool_3x3(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  """Mixed_6a: grid reduction 35 -> 17."""
  calibrate: bool = False

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(BasicConv, batch_stats_from_input=self.calibrate)
    b3 = conv(384, (3, 3), strides=2, name="branch3x3")(x)
    bd = conv(64, (1, 1), name="branch3x3dbl_1")(x)
    bd = conv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = conv(96, (3, 3), strides=2, name="branch3x3dbl_3")(bd)
    return jnp.concatenate([b3, bd, _max_pool_3x3(x, stride=2)], axis=-1)


class InceptionC(nn.Module):
  """Mixed_6b-e: factorised 7x7 branches, 17x17."""
  channels_7x7: int
  calibrate: bool = False

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(BasicConv, batch_stats_from_input=self.calibrate)
    c7 = self.channels_7x7
    b1 = conv(192, (1, 1), name="branch1x1")(x)
    b7 = conv(c7, (1, 1), name="branch7x7_1")(x)
    b7 = conv(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
    b7 = conv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
    bd = conv(c7, (1, 1), name="branch7x7dbl_1")(x)
    bd = conv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
    bd = conv(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
    bd = conv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
    bd = conv(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
    bp = conv(192, (1, 1), name="branch_pool")(_avg_pool_3x3(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  """Mixed_7a: grid reduction 17 -> 8."""
  calibrate: bool = False

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(BasicConv, batch_stats_from_input=self.calibrate)
    b3 = conv(192, (1, 1), name="branch3x3_1")(x)
    b3 = conv(320, (3, 3), strides=2, name="branch3x3_2")(b3)
    b7 = conv(192, (1, 1), name="branch7x7x3_1")(x)
    b7 = conv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
    b7 = conv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
    b7 = conv(192, (3, 3), strides=2, name="branch7x7x3_4")(b7)
    return jnp.concatenate([b3, b7, _max_pool_3x3(x, stride=2)], axis=-1)


class InceptionE(nn.Module):
  """Mixed_7b/7c: expanded filter bank, 8x8; the FID graph max-pools in Mixed_7c."""
  max_pool: bool
  calibrate: bool = False

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(BasicConv, batch_stats_from_input=self.calibrate)
    b1 = conv(320, (1, 1), name="branch1x1")(x)
    b3 = conv(384, (1, 1), name="branch3x3_1")(x)
    b3 = jnp.concatenate([conv(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
                          conv(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3)], -1)
    bd = conv(448, (1, 1), name="branch3x3dbl_1")(x)
    bd = conv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = jnp.concatenate([conv(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
                          conv(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd)], -1)
    pooled = _max_pool_3x3(x) if self.max_pool else _avg_pool_3x3(x)
    bp = conv(192, (1, 1), name="branch_pool")(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
  """The FID Inception-v3: float32 [B, 299, 299, 3] in [-1, 1] -> (pool3, logits).

  pool3: [B, 2048], the spatial mean after Mixed_7c; logits: [B, 1008] = fc(pool3).
  `calibrate` switches every BatchNorm to batch statistics (see BasicConv).
  """
  calibrate: bool = False

  @nn.compact
  def __call__(self, x):
    kw = dict(calibrate=self.calibrate)
    conv = functools.partial(BasicConv, batch_stats_from_input=self.calibrate)
    x = conv(32, (3, 3), strides=2, name="Conv2d_1a_3x3")(x)
    x = conv(32, (3, 3), name="Conv2d_2a_3x3")(x)
    x = conv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
    x = _max_pool_3x3(x, stride=2)
    x = conv(80, (1, 1), name="Conv2d_3b_1x1")(x)
    x = conv(192, (3, 3), name="Conv2d_4a_3x3")(x)
    x = _max_pool_3x3(x, stride=2)
    x = InceptionA(32, name="Mixed_5b", **kw)(x)
    x = InceptionA(64, name="Mixed_5c", **kw)(x)
    x = InceptionA(64, name="Mixed_5d", **kw)(x)
    x = InceptionB(name="Mixed_6a", **kw)(x)
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160),
                     ("Mixed_6e", 192)):
      x = InceptionC(c7, name=name, **kw)(x)
    x = InceptionD(name="Mixed_7a", **kw)(x)
    x = InceptionE(max_pool=False, name="Mixed_7b", **kw)(x)
    x = InceptionE(max_pool=True, name="Mixed_7c", **kw)(x)
    pool3 = jnp.mean(x, axis=(1, 2))
    logits = nn.Dense(NUM_CLASSES, precision=_PRECISION, name="fc")(pool3)
    return pool3, logits


def init_variables(seed: int = 0):
  """Random variables {'params', 'batch_stats'} of FIDInceptionV3 (numpy, float32).

  For tests and benchmarks; real evaluation loads converted weights with load_params.
  Drawn with numpy from the shapes alone (jitting Flax's init of this network takes
  ~45 s on a CPU): kernels ~ N(0, 1/fan_in), BN scale 1, bias 0, mean 0, var 1.
  """
  rng = np.random.default_rng(seed)
  flat = {}
  for name, shape in _expected_shapes().items():
    if name.endswith("kernel"):
      flat[name] = rng.normal(0, 1 / np.sqrt(np.prod(shape[:-1])), shape)
    elif name.endswith(("scale", "var")):
      flat[name] = np.ones(shape)
    else:
      flat[name] = np.zeros(shape)
  return traverse_util.unflatten_dict(
      {k: v.astype(np.float32) for k, v in flat.items()}, sep="/")


def calibrate_batch_stats(variables, images):
  """Replaces the BN running statistics by those of `images` passed in batch-stats mode.

  Random weights with unit BN statistics give features that hardly depend on the input
  (the signal fades over ~95 layers); after this every layer is normalised on this data,
  as in a trained network, so random-weight features become input-dependent enough for
  parity tests and meaningful benchmarks. Variances are the biased batch variances.

  Args:
    variables: {'params', 'batch_stats'} of FIDInceptionV3.
    images: uint8 [B, H, W, 1 or 3], one batch (resized as in "pytorch" mode).

  Returns:
    New variables (numpy) with the same params and the calibrated batch_stats.
  """
  with jax.default_matmul_precision("highest"):
    _, updates = jax.jit(lambda v, x: FIDInceptionV3(calibrate=True).apply(
        v, x, mutable=["batch_stats"]))(variables, _preprocess(np.asarray(images)))
  return jax.tree.map(np.asarray, {**variables, "batch_stats": updates["batch_stats"]})


@functools.lru_cache(maxsize=1)
def _expected_shapes():
  """Flat name -> shape of every variable, traced once (~1 s) without computing anything."""
  x = jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32)
  shapes = jax.eval_shape(FIDInceptionV3().init, jax.random.key(0), x)
  return {k: v.shape for k, v in traverse_util.flatten_dict(shapes, sep="/").items()}


# ------------------------------------------------------------------ weights on disk


# torch BatchNorm / Linear / Conv tensor name -> (collection, flax leaf name).
_TORCH_LEAVES = {
    "conv.weight": ("params", "conv/kernel"),
    "bn.weight": ("params", "bn/scale"),
    "bn.bias": ("params", "bn/bias"),
    "bn.running_mean": ("batch_stats", "bn/mean"),
    "bn.running_var": ("batch_stats", "bn/var"),
}


def params_from_torch_state_dict(state_dict) -> dict:
  """Converts pytorch-fid's FID Inception state dict to FIDInceptionV3 variables.

  Args:
    state_dict: mapping name -> array (numpy, or anything np.asarray takes) as in
      `{k: v.numpy() for k, v in torch.load(pth).items()}`, e.g. from pytorch-fid's
      pt_inception-2015-12-05-6726825d.pth. `num_batches_tracked` and an `AuxLogits.*`
      head (not part of the FID graph) are ignored.

  Returns:
    {'params': ..., 'batch_stats': ...} nested dicts of float32 numpy arrays. Conv
    kernels go from torch's OIHW to Flax's HWIO, the fc weight from [out, in] to [in, out].

  Raises:
    ValueError: if a tensor is missing, unexpected, or of the wrong shape.
  """
  flat = {}
  for name, value in state_dict.items():
    if name.endswith("num_batches_tracked") or name.startswith("AuxLogits."):
      continue
    value = np.asarray(value, np.float32)
    if name in ("fc.weight", "fc.bias"):
      key = "params/fc/" + ("kernel" if name == "fc.weight" else "bias")
      flat[key] = value.T if name == "fc.weight" else value
      continue
    parts = name.split(".")
    leaf = ".".join(parts[-2:])
    if leaf not in _TORCH_LEAVES:
      raise ValueError(f"unexpected tensor {name!r}: not the FID Inception-v3 state dict")
    collection, flax_leaf = _TORCH_LEAVES[leaf]
    if leaf == "conv.weight":
      value = value.transpose(2, 3, 1, 0)
    flat["/".join([collection, *parts[:-2], flax_leaf])] = value
  _check_shapes(flat, "the PyTorch state dict")
  return traverse_util.unflatten_dict(flat, sep="/")


def _check_shapes(flat, source):
  expected = _expected_shapes()
  missing = sorted(set(expected) - set(flat))
  unexpected = sorted(set(flat) - set(expected))
  wrong = [f"{k} {flat[k].shape} != {expected[k]}" for k in sorted(set(flat) & set(expected))
           if tuple(flat[k].shape) != tuple(expected[k])]
  if missing or unexpected or wrong:
    raise ValueError(
        f"{source} is not the FID Inception-v3: missing {missing[:5]} ({len(missing)}), "
        f"unexpected {unexpected[:5]} ({len(unexpected)}), wrong shapes {wrong[:5]}")


def save_params(variables, path) -> None:
  """Writes variables to a safetensors file with flat names like 'params/fc/kernel'."""
  from safetensors.numpy import save_file
  flat = traverse_util.flatten_dict(variables, sep="/")
  save_file({k: np.ascontiguousarray(np.asarray(v, np.float32)) for k, v in flat.items()},
            os.fspath(path))


def load_params(path) -> dict:
  """Reads variables written by save_params; checks they are the FID Inception's.

  Raises UserError if the file is missing or is not a converted FID Inception.
  """
  from safetensors.numpy import load_file
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise UserError(f"Inception weights file not found: {path}")
  try:
    flat = load_file(path)
  except Exception as e:  # safetensors raises its own error types for non-safetensors files
    raise UserError(f"{path} is not a safetensors file ({e}); convert pytorch-fid's weights "
                    "with `aigc convert-inception`") from None
  try:
    _check_shapes(flat, path)
  except ValueError as e:
    raise UserError(str(e)) from None
  return traverse_util.unflatten_dict(flat, sep="/")


def unbiased_logits(variables, logits):
  """logits - fc bias, float64 [N, 1008]: the "logits_unbiased" standard IS is taken on.

  The original TF Inception Score code multiplied pool3 by the softmax weights without the
  bias, and torch-fidelity keeps that; inception_score(unbiased_logits(...)) matches it.
  """
  bias = np.asarray(variables["params"]["fc"]["bias"], np.float64)
  return np.asarray(logits, np.float64) - bias


# ------------------------------------------------------------------------ resizing


def _bilinear_taps(in_size: int, out_size: int):
  """Source indices and weights of torch's bilinear resize, align_corners=False.

  Output pixel i samples source coordinate (i + 0.5) * in/out - 0.5, clamped at 0 from
  below, and mixes its two neighbours (the upper one clamped to the last pixel). No
  antialiasing: downsampling just samples, as F.interpolate(antialias=False) does.
  Computed in float32, as torch does for float32 images. Returns (i0, i1, w0, w1), [out].
  """
  scale = np.float32(in_size) / np.float32(out_size)
  src = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
  src = np.maximum(src, np.float32(0))
  i0 = np.minimum(np.floor(src).astype(np.int32), in_size - 1)
  i1 = np.minimum(i0 + 1, in_size - 1)
  w1 = np.clip(src - i0.astype(np.float32), 0, 1).astype(np.float32)
  return i0, i1, np.float32(1) - w1, w1


def _resize_axis(x, axis: int, out_size: int):
  i0, i1, w0, w1 = _bilinear_taps(x.shape[axis], out_size)
  shape = [1] * x.ndim
  shape[axis] = out_size
  return (jnp.take(x, i0, axis=axis) * w0.reshape(shape)
          + jnp.take(x, i1, axis=axis) * w1.reshape(shape))


def resize_pytorch(x):
  """float [B, H, W, C] -> [B, 299, 299, C], as F.interpolate(bilinear, align_corners=False).

  Separable: rows then columns (torch mixes the four taps at once; the two agree to
  float32 rounding).
  """
  if x.shape[1:3] == (INPUT_SIZE, INPUT_SIZE):
    return x
  return _resize_axis(_resize_axis(x, 1, INPUT_SIZE), 2, INPUT_SIZE)


def resize_clean(images: np.ndarray) -> np.ndarray:
  """uint8 [B, H, W, C] -> float32 [B, 299, 299, C] in [0, 255], as clean-fid resizes.

  Each channel becomes a float32 PIL image and is resized with PIL's bicubic filter, which
  antialiases when downsampling, and the result is clipped to [0, 255] without
  quantising (clean-fid's "clean" mode). Runs on the host.
  """
  from PIL import Image
  out = np.empty((images.shape[0], INPUT_SIZE, INPUT_SIZE, images.shape[3]), np.float32)
  for b, image in enumerate(images):
    for c in range(images.shape[3]):
      channel = Image.fromarray(image[:, :, c].astype(np.float32), mode="F")
      if channel.size != (INPUT_SIZE, INPUT_SIZE):
        channel = channel.resize((INPUT_SIZE, INPUT_SIZE), resample=Image.BICUBIC)
      out[b, :, :, c] = np.asarray(channel)
  return np.clip(out, 0, 255)


# ------------------------------------------------------------------ feature extraction


@jax.jit
def _preprocess(images):
  """[B, H, W, 1 or 3] uint8 -> float32 [B, 299, 299, 3] in [-1, 1] ("pytorch" mode).

  Divides by 255 first and maps to [-1, 1] last, in pytorch-fid's order (ToTensor,
  interpolate, 2x - 1), so rounding matches too.
  """
  x = images.astype(jnp.float32) / 255.0
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)
  return 2.0 * resize_pytorch(x) - 1.0


@jax.jit
def _preprocess_clean(images):
  """float32 [B, 299, 299, 1 or 3] in [0, 255] (resize_clean's output) -> [-1, 1) input.

  (x - 128) / 128, the scaling inside the TF graph that clean-fid (and the original TF
  FID code) runs, rather than pytorch-fid's x / 255 * 2 - 1: the two differ by up to
  1/128 at white, so clean mode feeds the network exactly what clean-fid's does.
  """
  x = images.astype(jnp.float32)
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)
  return (x - 128.0) / 128.0


def network_input(images, resize: str = "pytorch") -> np.ndarray:
  """The float32 [B, 299, 299, 3] the network sees for uint8 images [B, H, W, 1 or 3]."""
  if resize == "clean":
    return np.asarray(_preprocess_clean(resize_clean(np.asarray(images))))
  return np.asarray(_preprocess(np.asarray(images)))


@jax.jit
def _network(variables, x):
  return FIDInceptionV3().apply(variables, x)


def _rebatch(images, batch_size: int) -> Iterator[np.ndarray]:
  """Yields arrays of batch_size images (the last of each image size may be shorter).

  `images` is one [N, H, W, C] array or an iterable of such batches; consecutive batches
  of one image size are pooled, so any input batching gives the same compiled shapes.
  """
  batches = [images] if getattr(images, "ndim", None) == 4 else images  # numpy or jax
  pending, count = [], 0
  for batch in batches:
    batch = np.asarray(batch)
    if batch.ndim != 4 or batch.shape[-1] not in (1, 3):
      raise ValueError(f"images must be [N, H, W, 1 or 3], got shape {batch.shape}")
    if pending and batch.shape[1:] != pending[0].shape[1:]:
      yield np.concatenate(pending)
      pending, count = [], 0
    while batch.shape[0]:
      take = batch_size - count
      pending.append(batch[:take])
      count += pending[-1].shape[0]
      batch = batch[take:]
      if count == batch_size:
        yield np.concatenate(pending)
        pending, count = [], 0
  if pending:
    yield np.concatenate(pending)


def iter_inception_features(variables, images, batch_size: int = 50, resize: str = "pytorch",
                            progress: bool = False, total: int | None = None):
  """Yields (pool3 [b, 2048], logits [b, 1008]) float32 numpy per batch, in input order.

  Same arguments as inception_features; use this to stream statistics over many images.
  Each batch is padded to a fixed size (batch_size rounded up to a multiple of the local
  device count), split over the devices along a 'data' mesh axis, and cut back after.
  The next batch is dispatched before the previous one is fetched, so host-side loading
  and resizing overlap with the device.
  """
  if resize not in RESIZE_MODES:
    raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}")
  devices = jax.local_devices()
  mesh = Mesh(np.array(devices), ("data",))
  data_sharding = NamedSharding(mesh, PartitionSpec("data"))
  padded_size = -(-batch_size // len(devices)) * len(devices)
  variables = jax.device_put(variables, NamedSharding(mesh, PartitionSpec()))
  if progress:
    from tqdm import tqdm
    bar = tqdm(total=total, unit="img", desc="Inception features")

  preprocess = _preprocess_clean if resize == "clean" else _preprocess

  def dispatch(batch):
    if resize == "clean":
      batch = resize_clean(batch)
    pad = padded_size - batch.shape[0]
    batch = np.concatenate([batch, np.zeros((pad, *batch.shape[1:]), batch.dtype)])
    with jax.default_matmul_precision("highest"):
      pool3, logits = _network(variables, preprocess(jax.device_put(batch, data_sharding)))
    return pool3, logits, padded_size - pad

  pending = None
  for batch in _rebatch(images, batch_size):
    current = dispatch(batch)
    if pending is not None:
      yield _fetch(pending, bar if progress else None)
    pending = current
  if pending is not None:
    yield _fetch(pending, bar if progress else None)
  if progress:
    bar.close()


def _fetch(pending, bar):
  pool3, logits, n = pending
  out = np.asarray(pool3)[:n], np.asarray(logits)[:n]
  if bar is not None:
    bar.update(n)
  return out


def inception_features(params, images, batch_size: int = 50, resize: str = "pytorch",
                       progress: bool = False):
  """Inception pool3 features and logits of uint8 images, sharded over local devices.

  Args:
    params: variables from load_params / params_from_torch_state_dict.
    images: uint8 [N, H, W, C] with C = 3 (RGB) or 1 (grey, repeated to RGB), any H, W;
      or an iterable of such batches (sizes may differ between batches).
    batch_size: images per device step (padded to a multiple of the device count); the
      last batch is zero-padded and the padding dropped, so every image is kept.
    resize: how images reach 299x299. "pytorch" (default): bilinear, align_corners=False,
      no antialiasing, on the device, then x / 255 * 2 - 1, as pytorch-fid does, so
      scores compare with pytorch-fid's. "clean": PIL bicubic with antialiasing on the
      host, then (x - 128) / 128, as clean-fid's default ("clean" mode) does.
    progress: show a tqdm bar.

  Returns:
    (pool3 [N, 2048], logits [N, 1008]) float32 numpy arrays, in input order.
  """
  total = images.shape[0] if getattr(images, "ndim", None) == 4 else None
  parts = list(iter_inception_features(params, images, batch_size, resize, progress, total))
  if not parts:
    return (np.zeros((0, 2048), np.float32), np.zeros((0, NUM_CLASSES), np.float32))
  return tuple(np.concatenate(p) for p in zip(*parts))
