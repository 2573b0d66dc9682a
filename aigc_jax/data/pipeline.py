"""tfds data sources read through grain: shuffled, sharded, resized, batched.

A dataset is named in the config (`config.data.name`). Names in `EMBEDDED` are builders
of this package whose data ship inside a dependency; they are prepared on first use,
offline. Any other name is a tensorflow-datasets catalog name, which must already be
prepared in `config.data.data_dir` (or tfds' default) unless `config.data.download` is
true; reading a prepared dataset needs no TensorFlow.

The training stream is a random-access `grain.MapDataset`: batch `i` is a pure function
of (seed, i), so a run resumed at step k reads exactly the batches an uninterrupted run
would have read, with no iterator state to save.

Conditions for conditional models: a class label (`label_key`, default "label") comes
out as "label" int32 [b]; a dict of boolean attributes (`attribute_key`, default
"attributes", e.g. celeb_a's 40) comes out as "attributes", a float32 multi-hot [b, K]
whose order is the attribute names sorted alphabetically, as
`dataset_info(...).attribute_names` lists them. `center_crop` (pixels, 0 = off) crops a
centred square before resizing, for non-square images such as celeb_a's 218x178.
"""

import dataclasses
import os
import threading
import queue

import grain
import jax
import numpy as np
from PIL import Image

from aigc_jax.data import digits
from aigc_jax.errors import UserError

# Datasets whose data ship inside a dependency: name -> tfds builder class.
EMBEDDED = {"digits": digits.Digits}


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
    builder = EMBEDDED[name](data_dir=data_dir, file_format="array_record")
    if not _is_prepared(builder):
      tfds.disable_progress_bar()  # Preparing takes seconds; its bars would only clutter.
      builder.download_and_prepare()
    return builder
  try:
    builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
  except Exception as e:  # tfds raises several types for unknown names.
    raise UserError(f"unknown dataset {name!r}: not an embedded dataset ({', '.join(EMBEDDED)}) "
                    f"nor a tensorflow-datasets name ({str(e).splitlines()[0]})") from e
  if not _is_prepared(builder):
    if not download:
      raise UserError(
          f"dataset {name!r} is not prepared in {builder.data_dir}; prepare it once with "
          f"--config.data.download=True (needs network) or point --config.data.data_dir at it")
    builder.download_and_prepare()
  return builder


def _is_prepared(builder) -> bool:
  return os.path.exists(os.path.join(builder.data_dir, "dataset_info.json"))


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
  builder = get_builder(data_config.name, data_config.get("data_dir"), data_config.get("download", False))
  features = builder.info.features
  label = features[data_config.get("label_key", "label")] if data_config.get("label_key", "label") in features else None
  names = tuple(label.names) if label is not None and hasattr(label, "names") else ()
  attributes = features[_attribute_key(data_config)] if _attribute_key(data_config) in features else None
  return DatasetInfo(
      name=data_config.name, label_names=names,
      image_shape=tuple(features[data_config.get("image_key", "image")].shape),
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


def _preprocess(data_config):
  image_key = data_config.get("image_key", "image")
  label_key = data_config.get("label_key", "label")
  attribute_key = _attribute_key(data_config)
  resolution = data_config.resolution
  channels = data_config.get("channels", None)
  crop = data_config.get("center_crop", 0)

  def fn(record):
    image = np.asarray(record[image_key], dtype=np.uint8)
    if image.ndim == 2:
      image = image[..., None]
    if crop:
      image = center_crop(image, crop)
    if channels == 3 and image.shape[-1] == 1:
      image = np.repeat(image, 3, axis=-1)
    elif channels == 1 and image.shape[-1] == 3:
      image = np.asarray(Image.fromarray(image).convert("L"))[..., None]
    out = {"image": to_model_range(resize_uint8(image, resolution))}
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
      forever and drops the last partial batch; otherwise it is one ordered pass with the
      last batch kept.
    seed: the shuffle seed.
    process_index, process_count: this process's shard; default `jax.process_index()` and
      `jax.process_count()`.

  Each element is {"image": float32 [b, R, R, C] in [-1, 1], "label": int32 [b]} (the
  label if the dataset has one), plus "attributes": float32 [b, K] if it has attributes.
  """
  builder = get_builder(data_config.name, data_config.get("data_dir"), data_config.get("download", False))
  if split not in builder.info.splits:
    raise UserError(f"dataset {data_config.name!r} has no split {split!r}; "
                    f"it has {', '.join(builder.info.splits)}")
  pcount = jax.process_count() if process_count is None else process_count
  pindex = jax.process_index() if process_index is None else process_index
  if batch_size % pcount:
    raise UserError(f"batch_size {batch_size} is not divisible by the {pcount} processes")
  ds = grain.MapDataset.source(builder.as_data_source(split=split))
  ds = ds[pindex::pcount]  # Each process reads its own disjoint shard.
  if train:
    ds = ds.shuffle(seed=seed).repeat()
  ds = ds.map(_preprocess(data_config))
  return ds.batch(batch_size // pcount, drop_remainder=train)


def train_batches(data_config, *, batch_size: int, seed: int, start_step: int = 0, prefetch: int = 2):
  """Yields the training batches for steps `start_step, start_step + 1, ...`.

  Batches are read ahead on a background thread so that host-side decoding and resizing
  overlap with the device step.
  """
  ds = make_dataset(data_config, "train", batch_size=batch_size, train=True, seed=seed)
  return batches_from(ds, start_step, prefetch)


def batches_from(ds, start_step: int, prefetch: int = 2):
  """Yields `ds[start_step], ds[start_step + 1], ...` of an endless (repeated) dataset,
  read ahead on a background thread."""
  return _prefetch((ds[i] for i in _count(start_step)), prefetch)


def _count(start):
  while True:
    yield start
    start += 1


def _prefetch(iterator, size):
  q = queue.Queue(maxsize=size)
  stop = threading.Event()

  def worker():
    try:
      for item in iterator:
        while not stop.is_set():
          try:
            q.put(item, timeout=0.1)
            break
          except queue.Full:
            continue
        if stop.is_set():
          return
    except BaseException as e:  # Re-raised in the consumer.
      q.put(e)

  threading.Thread(target=worker, daemon=True).start()
  try:
    while True:
      item = q.get()
      if isinstance(item, BaseException):
        raise item
      yield item
  finally:
    stop.set()


def load_images(name: str, split: str, data_config=None):
  """All images of a split as uint8 [N, H, W, C] at their stored size (for metrics)."""
  from ml_collections import ConfigDict
  cfg = ConfigDict(dict(data_config or {}))
  cfg.name = name
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
  builder = get_builder(data_config.name, data_config.get("data_dir"), data_config.get("download", False))
  source = builder.as_data_source(split=split)
  key = _attribute_key(data_config)
  return np.stack([multi_hot(source[int(i) % len(source)][key]) for i in indices])
