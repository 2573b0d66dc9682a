"""tfds data sources read through grain: shuffled, sharded, resized, batched.

A dataset is named in the config (`config.data.name`). Names in `EMBEDDED` are builders
of this package whose data ship inside a dependency; they are prepared on first use,
offline. `folder` is the user's own folder of images, `config.data.path`, prepared once
into a tfds dataset keyed by its contents (`aigc_jax.data.folder`). Any other name is a
tensorflow-datasets dataset (a catalog name, or one the user's own builder prepared),
which must already be prepared in `config.data.data_dir` (or tfds' default) unless
`config.data.download` is true; reading a prepared dataset needs no TensorFlow, even
when its catalog code does (`_prepared_from_files`).

Every image is fitted to `data.resolution` x `data.resolution` with `data.channels`
channels when it is read, by the policy `data.resize` (default "resize"):
- "resize": the whole image, squeezed to a square if it is not one;
- "center_crop": the largest centred square, resized;
- "random_crop": the shorter side resized to `RANDOM_CROP_SCALE` x resolution, then a
  square at a random position. Drawn here, on the host, per image and per epoch from
  (seed, position in the stream) by grain's `random_map`, so it is part of the batch's
  pure function of (seed, step); evaluation and test images take the centre instead.

The training stream is a random-access `grain.MapDataset`: batch `i` is a pure function
of (seed, i), so a run resumed at step k reads exactly the batches an uninterrupted run
would have read, with no iterator state to save. `train_batches` reads it with grain's
reader threads (decoding and resizing off the main thread, batches read ahead).

Conditions for conditional models: a class label (`label_key`, default "label") comes
out as "label" int32 [b]; a dict of boolean attributes (`attribute_key`, default
"attributes", e.g. celeb_a's 40) comes out as "attributes", a float32 multi-hot [b, K]
whose order is the attribute names sorted alphabetically, as
`dataset_info(...).attribute_names` lists them. `center_crop` (pixels, 0 = off) crops a
centred square before resizing, for non-square images such as celeb_a's 218x178.
"""

import dataclasses
import os

import grain
import jax
import numpy as np
from PIL import Image

from aigc_jax.data import digits, folder
from aigc_jax.errors import UserError

# Datasets whose data ship inside a dependency: name -> tfds builder class.
EMBEDDED = {"digits": digits.Digits}
RESIZE_POLICIES = ("resize", "center_crop", "random_crop")
# "random_crop" first brings the shorter side to this times the resolution.
RANDOM_CROP_SCALE = 1.125
# grain reader threads of `train_batches`, and batches they read ahead.
READ_THREADS = 4
READ_AHEAD = 4


def to_model_range(images_uint8):
  """uint8 [0, 255] -> float32 [-1, 1] (works on numpy and jax arrays)."""
  return images_uint8.astype(np.float32) / 127.5 - 1.0


def to_uint8(images):
  """float [-1, 1] -> uint8 [0, 255], rounding and clipping, as a numpy array."""
  images = np.asarray(images, dtype=np.float32)
  return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def get_builder(name: str, data_dir: str | None = None, download: bool = False):
  """Returns a prepared tfds builder for `name` (embedded or catalog)."""
  import tensorflow_datasets as tfds
  if name in EMBEDDED:
    make = lambda: EMBEDDED[name](data_dir=data_dir, file_format="array_record")
    builder = make()
    if not _is_prepared(builder):
      tfds.disable_progress_bar()  # Preparing takes seconds; its bars would only clutter.
      builder = _prepare(builder, make)
    return builder
  make = lambda: tfds.builder(name, data_dir=data_dir, file_format="array_record")
  try:
    builder = make()
  except Exception as e:  # tfds raises several types for unknown names.
    builder = _prepared_from_files(name, data_dir)
    missing = _import_error(e) if builder is None else None
    if missing is not None:
      raise UserError(
          f"dataset {name!r} is not prepared in {folder.tfds_data_dir(data_dir)}, and its tensorflow-datasets "
          f"code needs a package to prepare it ({str(missing).rsplit(': ', 1)[-1]}): install it and prepare "
          f"the dataset once with --config.data.download=True, or point --config.data.data_dir at a "
          f"prepared copy") from e
    if builder is None:
      raise UserError(f"unknown dataset {name!r}: not an embedded dataset ({', '.join(EMBEDDED)}) "
                      f"nor a tensorflow-datasets name ({str(e).splitlines()[0]})") from e
  if not _is_prepared(builder):
    if not download:
      raise UserError(
          f"dataset {name!r} is not prepared in {builder.data_dir}; prepare it once with "
          f"--config.data.download=True (needs network) or point --config.data.data_dir at it")
    builder = _prepare(builder, make)
  return builder


def _prepare(builder, make):
  """`builder.download_and_prepare()`, tolerating a process that prepares the same dataset
  at the same time (two trainers starting on a fresh machine, the processes of one
  multi-host run on a shared disk): tfds writes into a folder of its own and renames it,
  and the slower rename fails because the dataset is there; then theirs is read, through
  a new builder (`make()`) that loads its metadata from disk."""
  try:
    builder.download_and_prepare()
  except OSError:  # FileExistsError, or ENOTEMPTY when the other rename lands between check and rename.
    builder = make()
    if not _is_prepared(builder):
      raise
  return builder


def _prepared_from_files(name: str, data_dir: str | None):
  """The read-only builder of `name` as prepared in `data_dir` (or tfds' default), from
  its files alone, or None if it is not prepared there.

  `tfds.builder` constructs a catalog dataset from its code when it has it, and some
  catalog code needs TensorFlow just to be constructed (coco_captions' `_info` names
  `tf.int64`), although its prepared array_record files read without it.
  """
  import tensorflow_datasets as tfds
  from tensorflow_datasets.core import read_only_builder
  try:
    return read_only_builder.builder_from_files(name, data_dir=data_dir)
  except tfds.core.DatasetNotFoundError:
    return None


def _import_error(error: BaseException | None) -> ImportError | None:
  """The ImportError in `error`'s chain (a catalog dataset whose code imports TensorFlow,
  coco_captions say), or None: the name is then unknown, not unpreparable here."""
  while error is not None:
    if isinstance(error, ImportError):
      return error
    error = error.__cause__ or error.__context__
  return None


def _is_prepared(builder) -> bool:
  return os.path.exists(os.path.join(builder.data_dir, "dataset_info.json"))


def builder_for(data_config):
  """The prepared tfds builder of `config.data`: a folder (prepared on first use, see
  `aigc_jax.data.folder`), an embedded dataset or a catalog one."""
  if data_config.name == folder.DATASET_NAME:
    return folder.builder(data_config)
  return get_builder(data_config.name, data_config.get("data_dir"), data_config.get("download", False))


def check_batch_split(batch_size: int, parts: int, what: str = "processes"):
  """Raises UserError unless `batch_size` splits evenly over `parts` processes (or
  devices: `what`). The one check every data source and the sharding use."""
  if batch_size % parts:
    raise UserError(f"batch_size {batch_size} is not divisible by the {parts} {what}")


def process_shard(process_index: int | None = None, process_count: int | None = None) -> tuple[int, int]:
  """(index, count) of this process, defaulting to `jax.process_index()` / `process_count()`."""
  return (jax.process_index() if process_index is None else process_index,
          jax.process_count() if process_count is None else process_count)


def process_batches(ds, batch_size: int, process_index: int | None = None, process_count: int | None = None):
  """An endless stream of examples (shuffled, repeated, mapped) -> this process's part of
  each global batch, as a `grain.MapDataset` of batches.

  Global batch `i` is examples `[i * B, (i + 1) * B)` of `ds` (B = `batch_size`), whatever
  the number of processes P; process p's batch `i` is its contiguous block of rows
  `[p * B / P, (p + 1) * B / P)` (the block its devices hold in the mesh,
  `train.sharding.make_mesh`). So the union over processes of their batches `i` is, row
  for row, the batch one process would read, and a run's results do not depend on how
  it is spread. Each process reads (and decodes) only its own rows.
  """
  pindex, pcount = process_shard(process_index, process_count)
  check_batch_split(batch_size, pcount)
  if pcount == 1:
    return ds.batch(batch_size, drop_remainder=True)
  rows = batch_size // pcount
  local = grain.MapDataset.range(0, 2**62).map(lambda k: ds[(k // rows) * batch_size + pindex * rows + k % rows])
  return local.batch(rows, drop_remainder=True)


def validate(data_config):
  """Checks `config.data` once, when a config is loaded, without reading any image.

  Raises a one-line UserError for: an unknown resize policy; channels other than 1 or
  3; and, for `folder`, a path that is not a folder and the layout errors of
  `folder.discover` (class folders mixed with loose images, an empty class folder, a
  CycleGAN folder without trainA/ or trainB/).
  """
  policy = data_config.get("resize", "resize")
  if policy not in RESIZE_POLICIES:
    raise UserError(f"unknown data.resize {policy!r}; choose one of {', '.join(RESIZE_POLICIES)}")
  channels = data_config.get("channels", None)
  if channels not in (None, 1, 3):
    raise UserError(f"data.channels must be 1 or 3, got {channels}")
  is_folder = data_config.get("name") == folder.DATASET_NAME or data_config.get("source") == "folder"
  if is_folder:
    folder.discover(data_config.get("path"), data_config.get("test_fraction", folder.DEFAULT_TEST_FRACTION))


def label_names(data_config) -> tuple[str, ...]:
  """The class names of `config.data`'s dataset, () if it has none; for a folder, read
  from its class folders without preparing it (what a class-conditional config needs
  to size its model: `num_classes = len(label_names(config.data))`)."""
  if data_config.name == folder.DATASET_NAME:
    return folder.discover(data_config.get("path"),
                           data_config.get("test_fraction", folder.DEFAULT_TEST_FRACTION)).label_names
  return dataset_info(data_config).label_names


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """What models need to know about a dataset: label and attribute names, sizes."""
  name: str
  label_names: tuple[str, ...]
  image_shape: tuple[int, int, int]
  split_sizes: dict
  # The order of the multi-hot "attributes" vector (sorted names); () if none.
  attribute_names: tuple[str, ...] = ()

  @property
  def num_classes(self) -> int:
    return len(self.label_names)

  def label_indices(self, names) -> np.ndarray:
    """Class names (e.g. ["3", "7"]) -> int32 class indices; a UserError names the valid ones."""
    index = {n: i for i, n in enumerate(self.label_names)}
    unknown = [n for n in names if n not in index]
    if unknown:
      valid = ", ".join(self.label_names) or "none: it has no class labels"
      raise UserError(f"unknown label(s) {', '.join(map(repr, unknown))} for {self.name}; valid labels: {valid}")
    return np.asarray([index[n] for n in names], np.int32)

  def attribute_vector(self, names) -> np.ndarray:
    """Attribute names (e.g. ["Smiling", "Eyeglasses"]) -> float32 multi-hot [K] with those on."""
    index = {n: i for i, n in enumerate(self.attribute_names)}
    unknown = [n for n in names if n not in index]
    if unknown:
      valid = ", ".join(self.attribute_names) or "none: it has no attributes"
      raise UserError(f"unknown attribute(s) {', '.join(map(repr, unknown))} for {self.name}; "
                      f"valid attributes: {valid}")
    vector = np.zeros(len(self.attribute_names), np.float32)
    vector[[index[n] for n in names]] = 1.0
    return vector


def dataset_info(data_config) -> DatasetInfo:
  """Label and attribute names and split sizes of `config.data`'s dataset (a folder's
  image shape is the configured one: its files have many)."""
  builder = builder_for(data_config)
  features = builder.info.features
  label = features[data_config.get("label_key", "label")] if data_config.get("label_key", "label") in features else None
  names = tuple(label.names) if label is not None and hasattr(label, "names") else ()
  attributes = features[_attribute_key(data_config)] if _attribute_key(data_config) in features else None
  shape = tuple(features[data_config.get("image_key", "image")].shape)
  if None in shape:
    shape = (data_config.resolution, data_config.resolution, data_config.get("channels", None) or shape[-1])
  return DatasetInfo(
      name=data_config.name, label_names=names,
      image_shape=shape,
      split_sizes={k: v.num_examples for k, v in builder.info.splits.items()},
      attribute_names=tuple(sorted(attributes.keys())) if hasattr(attributes, "keys") else ())


def _attribute_key(data_config) -> str:
  return data_config.get("attribute_key", "attributes")


def multi_hot(attributes: dict) -> np.ndarray:
  """{name: bool} -> float32 [K] in the sorted order of the names (`attribute_names`)."""
  return np.asarray([attributes[k] for k in sorted(attributes)], np.float32)


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
  """uint8 HWC -> the centred [size, size] square (for non-square datasets)."""
  h, w = image.shape[:2]
  if size > min(h, w):
    raise UserError(f"center_crop {size} is larger than the {h}x{w} images")
  top, left = (h - size) // 2, (w - size) // 2
  return image[top:top + size, left:left + size]


def resize_uint8(image: np.ndarray, resolution: int) -> np.ndarray:
  """uint8 HWC -> uint8 [resolution, resolution, C], bilinear (antialiased when shrinking)."""
  h, w, c = image.shape
  if (h, w) == (resolution, resolution):
    return image
  pil = Image.fromarray(image[..., 0] if c == 1 else image)
  out = np.asarray(pil.resize((resolution, resolution), Image.BILINEAR))
  return out.reshape(resolution, resolution, c)


def fit_uint8(image: np.ndarray, resolution: int, policy: str = "resize", rng=None) -> np.ndarray:
  """uint8 [H, W, C] -> uint8 [resolution, resolution, C] by the resize policy (see the
  module docstring); "random_crop" draws its position from `rng` (a numpy Generator),
  and takes the centre when `rng` is None."""
  h, w = image.shape[:2]
  if policy == "resize":
    return resize_uint8(image, resolution)
  if policy == "random_crop" and rng is not None:
    short = max(resolution, round(resolution * RANDOM_CROP_SCALE))
    scale = short / min(h, w)
    nh, nw = max(short, round(h * scale)), max(short, round(w * scale))
    image = _resize_hw(image, nh, nw)
    top, left = int(rng.integers(0, nh - resolution + 1)), int(rng.integers(0, nw - resolution + 1))
    return image[top:top + resolution, left:left + resolution]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  return resize_uint8(image[top:top + side, left:left + side], resolution)


def _resize_hw(image, h, w):
  """uint8 [H, W, C] -> [h, w, C], bilinear (antialiased when shrinking)."""
  if image.shape[:2] == (h, w):
    return image
  c = image.shape[-1]
  pil = Image.fromarray(image[..., 0] if c == 1 else image)
  return np.asarray(pil.resize((w, h), Image.BILINEAR)).reshape(h, w, c)


def _preprocess(data_config, train: bool = False):
  """The per-record map: (record, rng or None) -> {"image": float32 [R, R, C], ...}."""
  image_key = data_config.get("image_key", "image")
  label_key = data_config.get("label_key", "label")
  attribute_key = _attribute_key(data_config)
  resolution = data_config.resolution
  channels = data_config.get("channels", None)
  crop = data_config.get("center_crop", 0)
  policy = data_config.get("resize", "resize")
  if policy not in RESIZE_POLICIES:
    raise UserError(f"unknown data.resize {policy!r}; choose one of {', '.join(RESIZE_POLICIES)}")

  def fn(record, rng=None):
    image = np.asarray(record[image_key], dtype=np.uint8)
    if image.ndim == 2:
      image = image[..., None]
    if crop:
      image = center_crop(image, crop)
    if channels == 3 and image.shape[-1] == 1:
      image = np.repeat(image, 3, axis=-1)
    elif channels == 1 and image.shape[-1] == 3:
      image = np.asarray(Image.fromarray(image).convert("L"))[..., None]
    out = {"image": to_model_range(fit_uint8(image, resolution, policy, rng if train else None))}
    if label_key in record:
      out["label"] = np.asarray(record[label_key]).astype(np.int32)
    if isinstance(record.get(attribute_key), dict):
      out["attributes"] = multi_hot(record[attribute_key])
    return out
  return fn


def make_dataset(data_config, split: str, *, batch_size: int, train: bool, seed: int = 0,
                 process_index: int | None = None, process_count: int | None = None):
  """Returns a `grain.MapDataset` of batches for this process.

  Args:
    data_config: the `config.data` ConfigDict (name, resolution, channels, data_dir...).
    split: a tfds split name, e.g. "train" or "test".
    batch_size: the global batch size; each process reads `batch_size // process_count`.
    train: if true, the stream is shuffled with `seed` (differently each epoch), repeats
      forever and drops the last partial batch, and each process reads its rows of every
      global batch (`process_batches`: the global batches do not depend on the number of
      processes); otherwise it is one ordered pass with the last batch kept, each process
      reading every `process_count`-th example.
    seed: the shuffle seed.
    process_index, process_count: this process's shard; default `jax.process_index()` and
      `jax.process_count()`.

  Each element is {"image": float32 [b, R, R, C] in [-1, 1], "label": int32 [b]} (the
  label if the dataset has one), plus "attributes": float32 [b, K] if it has attributes.
  """
  builder = builder_for(data_config)
  if split not in builder.info.splits:
    raise UserError(f"dataset {data_config.name!r} has no split {split!r}; "
                    f"it has {', '.join(builder.info.splits)}")
  pindex, pcount = process_shard(process_index, process_count)
  check_batch_split(batch_size, pcount)
  ds = grain.MapDataset.source(builder.as_data_source(split=split))
  preprocess = _preprocess(data_config, train)
  if train:
    # One global stream, each process reading its rows of every global batch.
    if len(ds) < batch_size:
      raise UserError(f"{len(ds)} training images are fewer than one batch of {batch_size}; "
                      f"lower --config.batch_size or add images")
    ds = ds.shuffle(seed=seed).repeat()
    if data_config.get("resize", "resize") == "random_crop":
      ds = ds.random_map(preprocess, seed=seed)
    else:
      ds = ds.map(preprocess)
    return process_batches(ds, batch_size, pindex, pcount)
  ds = ds[pindex::pcount]  # One ordered pass: each process its own disjoint shard.
  return ds.map(preprocess).batch(batch_size // pcount, drop_remainder=False)


def train_batches(data_config, *, batch_size: int, seed: int, start_step: int = 0, prefetch: int = READ_AHEAD):
  """Yields the training batches for steps `start_step, start_step + 1, ...`.

  Batches are read ahead by grain's reader threads, so that host-side decoding and
  resizing overlap with the device step.
  """
  ds = make_dataset(data_config, "train", batch_size=batch_size, train=True, seed=seed)
  return batches_from(ds, start_step, prefetch)


def batches_from(ds, start_step: int, prefetch: int = READ_AHEAD):
  """Yields `ds[start_step], ds[start_step + 1], ...` of an endless (repeated) dataset,
  each batch read by one of grain's `READ_THREADS` reader threads, `prefetch` ahead, in
  order: the same batches as reading them one by one."""
  steps = grain.MapDataset.range(start_step, 2**62).map(lambda i: ds[i])
  options = grain.ReadOptions(num_threads=min(READ_THREADS, prefetch), prefetch_buffer_size=prefetch)
  return iter(steps.to_iter_dataset(options))


def load_images(name: str, split: str, data_config=None):
  """All images of a split as uint8 [N, H, W, C] at their stored size (for metrics); a
  folder's images, whose sizes differ, come at the configured resolution and channels."""
  from ml_collections import ConfigDict
  cfg = ConfigDict(dict(data_config or {}))
  cfg.name = name
  if name == folder.DATASET_NAME:
    ds = make_dataset(cfg, split, batch_size=256, train=False, process_index=0, process_count=1)
    return np.concatenate([to_uint8(ds[i]["image"]) for i in range(len(ds))])
  builder = get_builder(name, cfg.get("data_dir"), cfg.get("download", False))
  if split not in builder.info.splits:
    raise UserError(f"dataset {name!r} has no split {split!r}; it has {', '.join(builder.info.splits)}")
  source = builder.as_data_source(split=split)
  key = cfg.get("image_key", "image")
  return np.stack([np.asarray(source[i][key], dtype=np.uint8) for i in range(len(source))])


def load_attributes(data_config, split: str, indices) -> np.ndarray:
  """The multi-hot attribute vectors float32 [len(indices), K] of examples of a split.

  For conditional sampling without given attributes: real combinations (a smiling,
  bald, young woman is rare) rather than independent coin flips.
  """
  source = builder_for(data_config).as_data_source(split=split)
  key = _attribute_key(data_config)
  return np.stack([multi_hot(source[int(i) % len(source)][key]) for i in indices])
