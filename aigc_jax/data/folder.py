"""`folder`: a folder of the user's own images as a prepared tensorflow-datasets dataset.

Named in a config as `data.name = "folder"` and `data.path = DIR`. Layouts, as users
already know them (`discover`):
- flat: image files directly in DIR (or below it): unconditional, no labels;
- one sub-folder per class (the ImageFolder convention of torchvision and
  tensorflow-datasets): the sorted folder names are the label names;
- either of these inside `train/` and (optionally) `test/` at the top; without them,
  a seeded fraction `data.test_fraction` of the files is held out as the test split;
- `trainA/ trainB/ [testA/ testB/]`: two unpaired domains for CycleGAN (splits named
  like tensorflow-datasets' `cycle_gan`).

Preparation (`prepare`) decodes every file once with PIL, in a process pool over all
cores, streaming (one image per worker at a time, written as it comes), with a progress
bar, into a real tensorflow-datasets dataset: one array_record file per split, an
`Image` feature (PNG) and, for class layouts, a `ClassLabel` feature whose names are
the class folders, so `tfds.builder_from_directory` reads it and its dataset info lists
the label names. No TensorFlow is needed to write or read it.

What is stored: each image in 8-bit grey (L) or RGB (grey, bilevel and 16-bit images
stay grey; palette, CMYK and other colour modes become RGB, alpha is dropped; 16-bit
values v become round(v * 255 / 65535), scaled, not clipped), shrunk (bicubic,
aspect kept) so its shorter side is at most `max_size` pixels. The size, channel count
and crop a model wants (`data.resolution`, `data.channels`, `data.resize`) are applied
when reading (`aigc_jax.data.pipeline`), so one preparation serves every resolution
up to `max_size`, and the random crop is drawn per image and epoch while training.

Where: `<data_dir>/folder/<folder name>-<fingerprint>/`, with `data_dir` =
`data.data_dir`, else `$TFDS_DATA_DIR`, else ~/tensorflow_datasets. The fingerprint
hashes every file's relative path, size and modification time, the split options and
the stored format, so the next run reuses the preparation and a changed folder is
prepared again (the stale preparation of the same folder is then removed).

Files that are not readable images (zero bytes, truncated, not an image, a mode such as
32-bit float that has no 8-bit meaning) are skipped, each with a warning naming it,
and a count at the end. Layout mistakes are one-line `UserError`s.
"""

import collections
import concurrent.futures
import dataclasses
import hashlib
import io
import json
import logging
import multiprocessing
import os
import shutil
import socket
import warnings

import numpy as np
from PIL import Image

from aigc_jax.data import image_folder
from aigc_jax.errors import UserError

DATASET_NAME = "folder"
VERSION = "1.0.0"
# Bumped whenever what is stored changes, so that older preparations are not reused.
FORMAT = 1
DEFAULT_TEST_FRACTION = 0.1
# The held-out split is drawn with this fixed seed, not the run's: every run of every
# config on a folder then evaluates on the same images.
SPLIT_SEED = 20240101
# The stored images' shorter side is at most this (or the resolution asked, if larger).
MAX_SIZE = 256
DOMAIN_SPLITS = ("trainA", "trainB", "testA", "testB")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
_GREY_MODES = ("1", "L", "LA", "La")
_COLOUR_MODES = ("P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")
# Below this many files, decoding runs in this process: starting workers costs more.
_POOL_THRESHOLD = 256


@dataclasses.dataclass(frozen=True)
class Entry:
  """One candidate file: its path relative to the root, its label (-1 if none), its
  class folder (absolute; "" if none), and the size and mtime the fingerprint uses."""
  path: str
  label: int
  class_folder: str
  size: int
  mtime_ns: int


@dataclasses.dataclass(frozen=True)
class Layout:
  """What `discover` found: `kind` is "flat", "classes" or "domains"; `splits` maps a
  split name to its entries in sorted path order."""
  root: str
  kind: str
  label_names: tuple[str, ...]
  splits: dict
  held_out: bool

  @property
  def num_files(self) -> int:
    return sum(len(v) for v in self.splits.values())


# ------------------------------------------------------------------------ discovery

def _listdir(folder):
  """(files, folders) directly in `folder`, sorted, hidden names left out."""
  files, dirs = [], []
  with os.scandir(folder) as it:
    for e in it:
      if e.name.startswith("."):
        continue
      (dirs if e.is_dir() else files if e.is_file() else []).append(e.name)
  return sorted(files), sorted(dirs)


def _walk(folder, root, label, class_folder):
  """Every non-hidden file under `folder`, recursively, as sorted `Entry`s."""
  out = []
  for base, dirs, files in os.walk(folder):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    for name in sorted(files):
      if name.startswith("."):
        continue
      full = os.path.join(base, name)
      st = os.stat(full)
      out.append(Entry(os.path.relpath(full, root), label, class_folder, st.st_size, st.st_mtime_ns))
  return out


def list_files(path) -> list[str]:
  """The absolute paths of the non-hidden files under `path`, recursively, in the sorted
  order every layout uses."""
  root = os.path.abspath(path)
  return [os.path.join(root, e.path) for e in _walk(root, root, -1, "")]


def _is_image_name(name):
  return name.lower().endswith(IMAGE_EXTENSIONS)


def _scan_split(folder, root):
  """A split folder -> (class names or None, {class name: entries} or entries)."""
  files, dirs = _listdir(folder)
  loose = [f for f in files if _is_image_name(f)]
  if dirs and loose:
    raise UserError(f"{folder} mixes class folders ({', '.join(dirs[:3])}) with loose images "
                    f"({', '.join(loose[:3])}); put every image in a class folder, or none")
  if not dirs:
    entries = _walk(folder, root, -1, "")
    if not entries:
      raise UserError(f"no image in {folder}")
    return None, entries
  for f in files:
    warnings.warn(f"ignoring {os.path.join(folder, f)}: not in a class folder", stacklevel=3)
  per_class = {}
  for d in dirs:
    entries = _walk(os.path.join(folder, d), root, 0, os.path.join(folder, d))
    if not entries:
      raise UserError(f"class folder {os.path.join(folder, d)} has no image")
    per_class[d] = entries
  return tuple(dirs), per_class


def _labelled(per_class, names):
  index = {n: i for i, n in enumerate(names)}
  return sorted((dataclasses.replace(e, label=index[c]) for c, es in per_class.items() for e in es),
                key=lambda e: e.path)


def _held_out(entries, test_fraction):
  """Splits sorted entries into train and test with the fixed seed."""
  n = len(entries)
  num_test = 0 if test_fraction <= 0 or n < 2 else min(n - 1, max(1, round(test_fraction * n)))
  test = set(np.random.default_rng(SPLIT_SEED).permutation(n)[:num_test].tolist())
  return ([e for i, e in enumerate(entries) if i not in test],
          [e for i, e in enumerate(entries) if i in test])


def discover(path, test_fraction: float = DEFAULT_TEST_FRACTION) -> Layout:
  """Finds the layout of folder `path` (see the module docstring); reads no image.

  Raises UserError: `path` is not a folder; it holds no file; class folders are mixed
  with loose images; a class folder holds no file; a CycleGAN folder has only one of
  trainA/ and trainB/.
  """
  if not isinstance(path, (str, os.PathLike)) or not os.path.isdir(path):
    raise UserError(f"data.path {path!r} is not a folder; point --config.data.path at a folder of images")
  if not 0.0 <= test_fraction < 1.0:
    raise UserError(f"data.test_fraction must be in [0, 1), got {test_fraction}")
  root = os.path.abspath(path)
  _, dirs = _listdir(root)
  domains = [d for d in DOMAIN_SPLITS if d in dirs]
  if domains:
    missing = [d for d in ("trainA", "trainB") if d not in dirs]
    if missing:
      raise UserError(f"CycleGAN folder {root} has no {' or '.join(d + '/' for d in missing)}; "
                      f"it needs trainA/ and trainB/ (testA/, testB/ optional)")
    splits = {}
    for d in domains:
      entries = _walk(os.path.join(root, d), root, -1, "")
      if not entries:
        raise UserError(f"no image in {os.path.join(root, d)}")
      splits[d] = entries
    return Layout(root, "domains", (), splits, held_out=False)
  if "train" in dirs:
    scanned = {s: _scan_split(os.path.join(root, s), root) for s in ("train", "test") if s in dirs}
    kinds = {names is None for names, _ in scanned.values()}
    if len(kinds) > 1:
      raise UserError(f"{root}: train/ and test/ must both have class folders, or neither")
    if None in [names for names, _ in scanned.values()]:
      return Layout(root, "flat", (), {s: e for s, (_, e) in scanned.items()}, held_out=False)
    names = tuple(sorted(set().union(*(n for n, _ in scanned.values()))))
    return Layout(root, "classes", names, {s: _labelled(pc, names) for s, (_, pc) in scanned.items()},
                  held_out=False)
  names, found = _scan_split(root, root)
  entries = found if names is None else _labelled(found, names)
  train, test = _held_out(entries, test_fraction)
  splits = {"train": train, **({"test": test} if test else {})}
  return Layout(root, "flat" if names is None else "classes", names or (), splits, held_out=True)


def fingerprint(layout: Layout, max_size: int) -> str:
  """A hex digest of everything the prepared dataset depends on (16 characters)."""
  h = hashlib.sha256(json.dumps([FORMAT, max_size, layout.kind, layout.label_names]).encode())
  for split, entries in layout.splits.items():
    h.update(split.encode())
    for e in entries:
      h.update(f"\0{e.path}\0{e.label}\0{e.size}\0{e.mtime_ns}".encode())
  return h.hexdigest()[:16]


# ------------------------------------------------------------------------ decoding

def load_image(path, max_size: int = MAX_SIZE) -> np.ndarray:
  """Reads an image file as uint8 [H, W] (grey) or [H, W, 3] (colour), shorter side at
  most `max_size` (bicubic, aspect kept). Raises on a file that is not a readable
  image, or whose mode has no 8-bit meaning (e.g. "F", 32-bit float)."""
  with Image.open(path) as image:
    image.load()  # Decodes now: a truncated file fails here, not later.
    mode = image.mode
    if mode in image_folder.SIXTEEN_BIT_MODES:
      image = image_folder.eight_bit(image)
    elif mode in _GREY_MODES:
      image = image.convert("L")
    elif mode in _COLOUR_MODES:
      image = image.convert("RGB")
    else:
      raise ValueError(f"unsupported image mode {mode}")
  w, h = image.size
  if min(w, h) > max_size:
    scale = max_size / min(w, h)
    image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)
  return np.asarray(image)


def _encode_files(tasks):
  return [_encode_file(task) for task in tasks]


def _pooled(pool, workers, tasks, chunk: int = 16):
  """`map(_encode_file, tasks)` on the pool, in order, with at most 4 chunks per worker
  in flight: memory stays flat however many files there are. A worker that dies (or
  cannot start, e.g. a script without `if __name__ == "__main__":` that spawns
  workers on import) is a UserError, not a hang."""
  chunks = (tasks[i:i + chunk] for i in range(0, len(tasks), chunk))
  pending = collections.deque()
  try:
    for c in chunks:
      pending.append(pool.submit(_encode_files, c))
      if len(pending) >= 4 * workers:
        yield from pending.popleft().result()
    while pending:
      yield from pending.popleft().result()
  except concurrent.futures.process.BrokenProcessPool as e:
    raise UserError("an image-decoding worker process died; if you call this from a script, "
                    "guard its entry point with `if __name__ == '__main__':`") from e


def _encode_file(task):
  """Worker: (path, max_size) -> (PNG bytes, whether colour, None) or (None, None, why)."""
  path, max_size = task
  try:
    array = load_image(path, max_size)
  # PIL reports bad files with many types (OSError, SyntaxError, ValueError,
  # DecompressionBombError...); every one means "skip this file".
  except Exception as e:  # noqa: BLE001
    return None, None, f"{type(e).__name__}: {e}"
  buffer = io.BytesIO()
  Image.fromarray(array).save(buffer, format="png", compress_level=1)  # Fast; still lossless.
  return buffer.getvalue(), array.ndim == 3, None


# ------------------------------------------------------------------------ preparation

def tfds_data_dir(data_dir=None) -> str:
  """Where tensorflow-datasets keeps prepared datasets: `data_dir`, else
  $TFDS_DATA_DIR, else ~/tensorflow_datasets (its own default)."""
  base = data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")
  return os.path.expanduser(base)


def data_root(data_dir=None) -> str:
  """The folder under which prepared folders live: `<data_dir>/folder`."""
  return os.path.join(tfds_data_dir(data_dir), DATASET_NAME)


def prepared_dir(layout: Layout, data_dir=None, max_size: int = MAX_SIZE) -> str:
  """Where `layout`'s preparation lives (whether or not it exists yet)."""
  name = "".join(c if c.isalnum() or c in "-_" else "_" for c in os.path.basename(layout.root)) or "root"
  return os.path.join(data_root(data_dir), f"{name}-{fingerprint(layout, max_size)}")


def is_prepared(directory: str) -> bool:
  return os.path.exists(os.path.join(directory, "dataset_info.json"))


def prepare(path, data_dir=None, *, test_fraction: float = DEFAULT_TEST_FRACTION,
            max_size: int = MAX_SIZE, workers: int | None = None, progress: bool | None = None) -> str:
  """Prepares folder `path` once; returns the dataset directory (for
  `tfds.builder_from_directory`). Reuses an existing preparation of the same contents.

  Args:
    path: the image folder (any layout of `discover`).
    data_dir: where preparations live (see `data_root`).
    test_fraction: the held-out fraction when the folder has no train/ and test/.
    max_size: the stored images' largest shorter side.
    workers: decoding processes; default all cores (none for small folders).
    progress: show a progress bar; None shows it on a terminal only.

  Raises UserError for the layout errors of `discover`, a folder with no readable
  image, and a class folder with no readable image.
  """
  layout = discover(path, test_fraction)
  out = prepared_dir(layout, data_dir, max_size)
  if is_prepared(out):
    return out
  os.makedirs(os.path.dirname(out), exist_ok=True)
  # Unique per host and process: hosts sharing a disk may prepare the same folder at once.
  tmp = f"{out}.tmp-{socket.gethostname()}-{os.getpid()}"
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  try:
    _write(layout, tmp, max_size, workers, progress)
    _remove_stale(layout.root, os.path.dirname(out), keep=os.path.basename(tmp))
    try:
      os.rename(tmp, out)
    except OSError:  # Another process prepared the same contents meanwhile: use theirs.
      if not is_prepared(out):
        raise
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return out


def _remove_stale(root, parent, keep):
  """Removes earlier preparations of the same folder (their source.json names it)."""
  for name in os.listdir(parent):
    if name == keep or ".tmp-" in name:
      continue
    source = os.path.join(parent, name, "source.json")
    try:
      with open(source) as f:
        stale = json.load(f).get("path") == root
    except (OSError, ValueError):
      continue
    if stale:
      shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


def _features(layout: Layout, channels: int):
  import tensorflow_datasets as tfds
  features = {"image": tfds.features.Image(shape=(None, None, channels), encoding_format="png")}
  if layout.kind == "classes":
    features["label"] = tfds.features.ClassLabel(names=layout.label_names)
  return tfds.features.FeaturesDict(features)


def _write(layout: Layout, directory: str, max_size: int, workers, progress):
  import tensorflow_datasets as tfds
  from array_record.python import array_record_module
  from tensorflow_datasets.core import dataset_info as info_lib, file_adapters, naming
  from tqdm import tqdm

  # The feature's channel count is only known at the end; serialising does not depend
  # on it (images are PNG bytes), so serialise with 3 and write the true one after.
  serializer = _features(layout, 3)
  workers = (os.cpu_count() or 1) if workers is None else workers
  use_pool = workers > 1 and layout.num_files >= _POOL_THRESHOLD
  # Spawned, not forked: the parent may run JAX's threads, which fork does not survive.
  pool = concurrent.futures.ProcessPoolExecutor(
      workers, mp_context=multiprocessing.get_context("spawn")) if use_pool else None
  readable, skipped, colour = {}, 0, False
  split_infos = []
  try:
    for split, entries in layout.splits.items():
      template = naming.ShardedFileTemplate(
          data_dir=directory, template=naming.DEFAULT_FILENAME_TEMPLATE, dataset_name=DATASET_NAME,
          split=split, filetype_suffix="array_record")
      filename = os.fspath(template.sharded_filepath(shard_index=0, num_shards=1))
      # group_size:1 gives every record its own chunk: random access without waste.
      writer = array_record_module.ArrayRecordWriter(filename, "group_size:1")
      tasks = [(os.path.join(layout.root, e.path), max_size) for e in entries]
      results = _pooled(pool, workers, tasks) if pool else map(_encode_file, tasks)
      count = num_bytes = 0
      bar = tqdm(results, total=len(tasks), unit="img", desc=f"preparing {split}",
                 disable=None if progress is None else not progress)
      for e, (png, is_colour, why) in zip(entries, bar):
        if png is None:
          warnings.warn(f"skipping {os.path.join(layout.root, e.path)}: not a readable image ({why})", stacklevel=2)
          skipped += 1
          continue
        example = {"image": png}
        if layout.kind == "classes":
          example["label"] = e.label
        record = serializer.serialize_example(example)
        writer.write(record)
        count += 1
        num_bytes += len(record)
        colour |= is_colour
        readable[e.class_folder] = readable.get(e.class_folder, 0) + 1
      writer.close()
      if count == 0:
        os.remove(filename)
        if split.startswith("train"):
          where = layout.root if layout.held_out else os.path.join(layout.root, split)
          raise UserError(f"no readable image in {where}")
        warnings.warn(f"no readable image for split {split} of {layout.root}; it is left out", stacklevel=2)
        continue
      split_infos.append(tfds.core.SplitInfo(name=split, shard_lengths=[count], num_bytes=num_bytes,
                                             filename_template=template))
  finally:
    if pool is not None:
      pool.shutdown(wait=True, cancel_futures=True)
  if skipped:
    warnings.warn(f"skipped {skipped} unreadable file(s) of {layout.num_files} in {layout.root}", stacklevel=2)
  class_folders = sorted({e.class_folder for es in layout.splits.values() for e in es if e.class_folder})
  empty = [f for f in class_folders if not readable.get(f)]
  if empty:
    raise UserError(f"class folder {empty[0]} has no readable image")
  identity = info_lib.DatasetIdentity(name=DATASET_NAME, version=tfds.core.Version(VERSION),
                                      data_dir=directory, module_name="")
  info = info_lib.DatasetInfo(
      builder=identity, features=_features(layout, 3 if colour else 1),
      description=f"The images of folder {layout.root} ({layout.kind} layout), prepared by aigc_jax.",
      supervised_keys=("image", "label") if layout.kind == "classes" else None)
  info.set_file_format(file_adapters.FileFormat.ARRAY_RECORD)
  info.set_splits(tfds.core.SplitDict(split_infos))
  info.write_to_directory(directory)
  with open(os.path.join(directory, "source.json"), "w") as f:
    json.dump({"path": layout.root, "kind": layout.kind, "max_size": max_size}, f)


# ------------------------------------------------------------------------ reading

def needed_size(data_config) -> int:
  """The stored shorter side a config needs: `data.max_size` (default `MAX_SIZE`), or
  the model's resolution (or CycleGAN's load size) if that is larger."""
  return max(int(data_config.get("max_size", MAX_SIZE) or MAX_SIZE), int(data_config.get("resolution", 0) or 0),
             int(data_config.get("load_size", 0) or 0))


def prepare_for(data_config, progress: bool | None = None) -> str:
  """`prepare` with a `config.data`'s path, data_dir, test_fraction and needed size."""
  return prepare(data_config.get("path"), data_config.get("data_dir"),
                 test_fraction=data_config.get("test_fraction", DEFAULT_TEST_FRACTION),
                 max_size=needed_size(data_config), progress=progress)


class _NoOpenCVHint(logging.Filter):
  """tfds suggests installing OpenCV to decode images; PIL, which it falls back to, is
  what this package uses on purpose, so the hint would only puzzle users."""

  def filter(self, record):
    return "OpenCV is not installed" not in record.getMessage()


def builder(data_config):
  """The prepared tfds builder of a folder config (preparing it on first use)."""
  import tensorflow_datasets as tfds
  absl_logger = logging.getLogger("absl")
  if not any(isinstance(f, _NoOpenCVHint) for f in absl_logger.filters):
    absl_logger.addFilter(_NoOpenCVHint())
  return tfds.builder_from_directory(prepare_for(data_config))
