"""Paired images for pix2pix: sources, the paired augmentation, training batches, test pairs.

A pair is (input, target), two aligned images of one scene: the model learns input ->
target. The source is picked by name with `config.data.source`:
- "side_by_side": the release's aligned datasets (facades, maps, edges2shoes...): each
  file holds the two images side by side, split at the middle column (w // 2). Files in
  `data.path`/train/ (or directly in `data.path`), test pairs in test/ (else val/, else
  the training files, with a warning).
- "folders": `data.path`/train/A/ and .../B/ (or `data.path`/A/ and B/ for training only),
  test pairs in test/A and test/B (else val/, else the training pairs, with a warning);
  a pair is the two files with the same name (extension aside). Every file must have its
  partner: a one-line UserError names the unmatched ones.
  For both file sources `data.direction` "AtoB" makes A (the left half) the input, "BtoA"
  the right half, as the release's `--direction`. Files are read when a batch needs them
  (streamed: any number of images); a file that cannot be read is skipped with a warning
  (its batch takes the next pair), so one bad file does not end a run.
- "tfds": a tensorflow-datasets dataset `data.name` whose records hold two image
  features, `data.input_key` and `data.target_key`; splits "train" and "test".
- "digits_edges" (embedded, offline): edges -> digit on scikit-learn's 8x8 digits
  (`aigc_jax.data.digits`, its fixed train/test split), each digit resized to the
  requested size and its edges found by thresholding the Sobel gradient magnitude: 1
  channel in, 1 out.
- "photos_grey" (embedded): grey -> colour on crops of scikit-learn's two sample photos
  (`aigc_jax.data.photos`: half the crops from each photo; `data.photo_size`,
  `photo_scale`, `photo_seed`, `num_train`, `num_test`): 1 channel in, 3 out.
- "photos_labels" (embedded): a label map -> photo on the same crops: each pixel coloured
  by the cluster of its colour (k-means with `data.num_clusters` clusters over both
  photos, seeded), drawn in a fixed palette of distinct colours, like the release's
  facades labels: 3 channels in, 3 out.

Training follows the release's "resize_and_crop" for both images of a pair alike: both
are resized (bicubic) to `data.load_size` on the host (embedded tasks draw their pair at
that size), and the random `data.crop_size` crop and the random horizontal flip (if
`data.flip`) happen in the jitted train step with the step's key (`augment`), the same
crop and flip for input and target. A batch is therefore a pure function of (seed,
step): a resumed run reads what an uninterrupted one would. Test pairs are drawn
straight at `crop_size` (the release tests with load_size = crop_size).

Batches are {"input": float32 [b, L, L, Cin], "target": float32 [b, L, L, Cout]} in
[-1, 1]; test pairs are uint8 at the edge, as everywhere in the library.
"""

import functools
import json
import os
import warnings

import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from PIL import Image

from aigc_jax.data import cyclegan_data, digits, image_folder, photos, pipeline
from aigc_jax.errors import UserError

SPLITS = ("train", "test")
DIRECTIONS = ("AtoB", "BtoA")


def default_config() -> ml_collections.ConfigDict:
  """Every `config.data` key the paired sources read, with the release's recipe values.

  A config starts from this and sets its source's keys; `check` validates the result.
  """
  return ml_collections.ConfigDict(dict(
      source="digits_edges",
      load_size=286, crop_size=256, flip=True,
      # side_by_side, folders:
      path="", direction="AtoB",
      # tfds:
      name="", input_key="input", target_key="target", data_dir=None, download=False,
      # photos_grey, photos_labels:
      photo_size=64, photo_scale=0.5, photo_seed=0, num_train=64, num_test=16, num_clusters=8,
  ))


def check(data_config):
  """One-line UserErrors for a `config.data` the paired sources cannot use."""
  d = data_config
  if d.source not in SOURCES:
    raise UserError(f"unknown data.source {d.source!r} for paired data; choose one of {', '.join(SOURCES)}")
  if d.crop_size > d.load_size:
    raise UserError(f"data.crop_size {d.crop_size} is larger than data.load_size {d.load_size}")
  if d.crop_size < 1:
    raise UserError(f"data.crop_size must be positive, got {d.crop_size}")
  if d.source in ("side_by_side", "folders"):
    if d.direction not in DIRECTIONS:
      raise UserError(f"unknown data.direction {d.direction!r}; choose one of {', '.join(DIRECTIONS)}")
    if not d.path or not os.path.isdir(d.path):
      raise UserError(f"data.path {d.path!r} is not a folder; for data.source={d.source!r} it holds "
                      + ("train/ (and test/) of side-by-side images" if d.source == "side_by_side"
                         else "train/A/ and train/B/ (or A/ and B/) of images paired by file name"))
  if d.source == "tfds" and not d.name:
    raise UserError("data.source='tfds' needs data.name, a dataset with two image features "
                    "(data.input_key, data.target_key)")
  if d.source == "photos_labels" and not 2 <= d.num_clusters <= len(PALETTE):
    raise UserError(f"data.num_clusters must be between 2 and {len(PALETTE)}, got {d.num_clusters}")


# ------------------------------------------------------------------------ helpers

def resize(image: np.ndarray, size: int) -> np.ndarray:
  """uint8 [H, W, C] (C = 1 or 3) -> uint8 [size, size, C], bicubic (antialiased when
  shrinking), as the release resizes both images of a pair."""
  if image.shape[:2] == (size, size):
    return image
  if image.shape[-1] == 1:
    out = Image.fromarray(image[..., 0]).resize((size, size), Image.BICUBIC)
    return np.asarray(out)[..., None]
  return np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC))


def split_side_by_side(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """uint8 [H, W, C] holding A | B -> (A [H, W//2, C], B [H, W - W//2, C]), split at the
  middle column as the release does (for odd W the right half has the extra column)."""
  w = image.shape[1]
  if w < 2:
    raise UserError(f"a side-by-side image must be at least 2 pixels wide, got {image.shape[:2]}")
  return image[:, :w // 2], image[:, w // 2:]


def sobel_edges(image: np.ndarray, threshold: float = 0.25) -> np.ndarray:
  """uint8 [H, W, 1] -> uint8 [H, W, 1] edge map: 255 where the Sobel gradient magnitude
  (edges replicated at the border) exceeds `threshold` times that of a full 0 -> 255
  step (4 * 255), 0 elsewhere."""
  x = np.pad(image[..., 0].astype(np.float32), 1, mode="edge")
  gx = (x[:-2, 2:] + 2 * x[1:-1, 2:] + x[2:, 2:]) - (x[:-2, :-2] + 2 * x[1:-1, :-2] + x[2:, :-2])
  gy = (x[2:, :-2] + 2 * x[2:, 1:-1] + x[2:, 2:]) - (x[:-2, :-2] + 2 * x[:-2, 1:-1] + x[:-2, 2:])
  magnitude = np.hypot(gx, gy)
  return np.where(magnitude > threshold * 4 * 255, 255, 0).astype(np.uint8)[..., None]


def _to_grey(rgb: np.ndarray) -> np.ndarray:
  return np.asarray(Image.fromarray(rgb).convert("L"))[..., None]


# A fixed palette of distinct colours for label maps (facades-like), one per cluster.
PALETTE = np.asarray([
    (0, 0, 170), (255, 85, 0), (0, 170, 255), (255, 255, 0), (170, 0, 0), (0, 255, 170),
    (85, 0, 255), (170, 255, 85), (255, 0, 170), (0, 85, 0), (255, 170, 170), (85, 85, 85),
], np.uint8)


# ------------------------------------------------------------------------ file sources

def _split_folder(root: str, split: str, is_split) -> str:
  """The folder of `split` under `root`: root/train (or root itself, if it is laid out as
  a split) for training; root/test, else root/val, else the training folder (warned)."""
  if split == "train":
    folder = os.path.join(root, "train")
    if os.path.isdir(folder):
      return folder
    if is_split(root):
      return root
    raise UserError(f"no training pairs in {root}: expected {folder}")
  for name in ("test", "val"):
    folder = os.path.join(root, name)
    if os.path.isdir(folder):
      return folder
  warnings.warn(f"no {os.path.join(root, 'test')} or val/; using the training pairs for evaluation",
                stacklevel=4)
  return _split_folder(root, "train", is_split)


def _image_names(folder: str) -> list[str]:
  return sorted(n for n in os.listdir(folder)
                if not n.startswith(".") and os.path.isfile(os.path.join(folder, n))
                and n.lower().endswith(image_folder.IMAGE_EXTENSIONS))


class _FilePairs:
  """Random access to pairs of image files, read when asked for; a file that cannot be
  read is skipped (warned once) in favour of the next pair, deterministically."""

  def __init__(self, files, read_pair, resize_to: int):
    self._files = files
    self._read_pair = read_pair
    self._size = resize_to

  def __len__(self):
    return len(self._files)

  def __getitem__(self, index):
    n = len(self._files)
    for k in range(n):
      files = self._files[(index + k) % n]
      try:
        a, b = self._read_pair(files)
      except UserError as e:
        _warn_once(f"skipping {e}")
        continue
      return resize(a, self._size), resize(b, self._size)
    raise UserError(f"no readable image pair among the {n} in {os.path.dirname(self._files[0][0])}")


@functools.lru_cache(maxsize=256)
def _warn_once(message: str):
  warnings.warn(message, stacklevel=3)


def _side_by_side_pairs(d, split, size):
  folder = _split_folder(d.path, split, lambda root: bool(_image_names(root)))
  names = _image_names(folder)
  if not names:
    raise UserError(f"no images ({', '.join(image_folder.IMAGE_EXTENSIONS)}) in {folder}")

  def read(files):
    a, b = split_side_by_side(image_folder.read_image(files[0]))
    return (a, b) if d.direction == "AtoB" else (b, a)
  return grain.MapDataset.source(_FilePairs([(os.path.join(folder, n),) for n in names], read, size))


def _folder_pairs(d, split, size):
  has_ab = lambda root: os.path.isdir(os.path.join(root, "A")) and os.path.isdir(os.path.join(root, "B"))
  folder = _split_folder(d.path, split, has_ab)
  if not has_ab(folder):
    raise UserError(f"missing folder {os.path.join(folder, 'A' if not os.path.isdir(os.path.join(folder, 'A')) else 'B')}; "
                    f"paired folders hold A/ and B/ with the same file names")
  by_stem = {}
  for side in ("A", "B"):
    stems = {}
    for name in _image_names(os.path.join(folder, side)):
      stem = os.path.splitext(name)[0]
      if stem in stems:
        raise UserError(f"{os.path.join(folder, side)} holds both {stems[stem]} and {name}; "
                        f"pairs are matched by file name without extension")
      stems[stem] = name
    if not stems:
      raise UserError(f"no images ({', '.join(image_folder.IMAGE_EXTENSIONS)}) in {os.path.join(folder, side)}")
    by_stem[side] = stems
  for side, other in (("A", "B"), ("B", "A")):
    unmatched = sorted(set(by_stem[side]) - set(by_stem[other]))
    if unmatched:
      shown = ", ".join(by_stem[side][s] for s in unmatched[:3]) + (", ..." if len(unmatched) > 3 else "")
      raise UserError(f"{len(unmatched)} file(s) in {os.path.join(folder, side)} have no partner of the same "
                      f"name in {other}/: {shown}")
  files = [(os.path.join(folder, "A", by_stem["A"][s]), os.path.join(folder, "B", by_stem["B"][s]))
           for s in sorted(by_stem["A"])]

  def read(pair):
    a, b = image_folder.read_image(pair[0]), image_folder.read_image(pair[1])
    return (a, b) if d.direction == "AtoB" else (b, a)
  return grain.MapDataset.source(_FilePairs(files, read, size))


def _tfds_pairs(d, split, size):
  builder = pipeline.get_builder(d.name, d.data_dir, d.download)
  splits = builder.info.splits
  if splits and split not in splits:
    raise UserError(f"dataset {d.name!r} has no split {split!r}; it has {', '.join(splits)}")
  features = builder.info.features
  for key in (d.input_key, d.target_key):
    if key not in features:
      raise UserError(f"dataset {d.name!r} has no feature {key!r}; it has {', '.join(features)}")

  def pair(record):
    image = lambda key: np.asarray(record[key], np.uint8).reshape(*np.shape(record[key])[:2], -1)
    return resize(image(d.input_key), size), resize(image(d.target_key), size)
  return grain.MapDataset.source(builder.as_data_source(split=split)).map(pair)


# ------------------------------------------------------------------------ embedded sources

@functools.lru_cache(maxsize=1)
def _digits():
  images, _ = digits.load_digits_arrays()
  return images, digits.split_indices()


def _digit_edge_pairs(d, split, size):
  images, indices = _digits()

  def pair(i):
    digit = pipeline.resize_uint8(images[i], size)  # Bilinear: smooth strokes to find edges on.
    return sobel_edges(digit), digit
  return grain.MapDataset.source(indices[split]).map(pair)


def _photo_crops(d, split) -> np.ndarray:
  num = d.num_train if split == "train" else d.num_test
  half = num // 2
  return np.concatenate([
      photos.crops("A", split, num - half, size=d.photo_size, scale=d.photo_scale, seed=d.photo_seed),
      photos.crops("B", split, half, size=d.photo_size, scale=d.photo_scale, seed=d.photo_seed)])


def _photo_grey_pairs(d, split, size):
  def pair(crop):
    colour = resize(crop, size)
    return _to_grey(colour), colour
  return grain.MapDataset.source(_photo_crops(d, split)).map(pair)


@functools.lru_cache(maxsize=8)
def colour_clusters(num_clusters: int, size: int, scale: float, seed: int = 0) -> np.ndarray:
  """float32 [num_clusters, 3] RGB centres of k-means (Lloyd, 20 steps, seeded) over the
  pixels of 16 training crops of each sample photo (`photos.crops` with `size`, `scale`,
  `seed`), sorted by brightness: the same on every machine."""
  pixels = np.concatenate([photos.crops(domain, "train", 16, size=size, scale=scale, seed=seed).reshape(-1, 3)
                           for domain in photos.PHOTOS])
  rng = np.random.default_rng(seed)
  pixels = pixels[rng.choice(len(pixels), size=min(len(pixels), 20000), replace=False)].astype(np.float32)
  centres = pixels[rng.choice(len(pixels), size=num_clusters, replace=False)]
  for _ in range(20):
    nearest = _nearest(pixels, centres)
    for k in range(num_clusters):
      members = pixels[nearest == k]
      if len(members):
        centres[k] = members.mean(0)
  return centres[np.argsort(centres.sum(1))]


def _nearest(pixels, centres):
  return np.argmin(((pixels[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)


def label_map(image: np.ndarray, centres: np.ndarray) -> np.ndarray:
  """uint8 [H, W, 3] -> uint8 [H, W, 3]: each pixel in the palette colour of its nearest centre."""
  labels = _nearest(image.reshape(-1, 3).astype(np.float32), centres)
  return PALETTE[labels].reshape(image.shape)


def _photo_label_pairs(d, split, size):
  centres = colour_clusters(d.num_clusters, d.photo_size, d.photo_scale, d.photo_seed)

  def pair(crop):
    photo = resize(crop, size)
    return label_map(photo, centres), photo
  return grain.MapDataset.source(_photo_crops(d, split)).map(pair)


# Source name -> (data_config, split, size) -> grain.MapDataset of
# (input uint8 [size, size, Cin], target uint8 [size, size, Cout]).
SOURCES = {
    "side_by_side": _side_by_side_pairs,
    "folders": _folder_pairs,
    "tfds": _tfds_pairs,
    "digits_edges": _digit_edge_pairs,
    "photos_grey": _photo_grey_pairs,
    "photos_labels": _photo_label_pairs,
}


def pairs(data_config, split: str, size: int):
  """The pairs of `split` ("train" or "test") at `size` x `size`, as a `grain.MapDataset`
  (`len`, `[i]`) of (input uint8 [size, size, Cin], target uint8 [size, size, Cout])."""
  check(data_config)
  if split not in SPLITS:
    raise ValueError(f"split must be one of {SPLITS}")
  return SOURCES[data_config.source](data_config, split, size)


def channels(data_config) -> tuple[int, int]:
  """(input channels, target channels) of the source: what the generator takes and gives."""
  first_input, first_target = pairs(data_config, "train", 4)[0]
  return first_input.shape[-1], first_target.shape[-1]


# ------------------------------------------------------------------------ training

def augment(key, batch: dict, crop_size: int, flip: bool) -> dict:
  """{"input": [B, L, L, Cin], "target": [B, L, L, Cout]} -> the same at crop_size, with one
  random crop per pair (uniform over positions) and, if `flip`, one left-right flip with
  probability 1/2 per pair, identical for input and target. Pure and jit-able; the same
  key gives the same result."""
  cin = batch["input"].shape[-1]
  both = jnp.concatenate([batch["input"], batch["target"]], axis=-1)
  both = cyclegan_data.augment(key, both, crop_size, flip)
  return {"input": both[..., :cin], "target": both[..., cin:]}


def _to_model(pair):
  return {"input": pipeline.to_model_range(pair[0]), "target": pipeline.to_model_range(pair[1])}


def train_batches(data_config, *, batch_size: int, seed: int, start_step: int = 0,
                  process_index: int | None = None, process_count: int | None = None):
  """Yields this process's batches for steps `start_step, start_step + 1, ...`.

  Each is {"input": float32 [b, L, L, Cin], "target": float32 [b, L, L, Cout]} in
  [-1, 1], L = `data.load_size`, b = batch_size / process count: an endless stream of
  the training pairs, reshuffled every epoch with `seed`. Batch i is a pure function of
  (seed, i). Crop and flip are left to the train step (`augment`). Read ahead on a few
  background threads (file sources decode there).
  """
  pcount = jax.process_count() if process_count is None else process_count
  pindex = jax.process_index() if process_index is None else process_index
  if batch_size % pcount:
    raise UserError(f"batch_size {batch_size} is not divisible by the {pcount} processes")
  ds = pairs(data_config, "train", data_config.load_size)
  if len(ds) == 0:
    raise UserError("no training pairs")
  # This process's rows of each global batch (the same global batches for any count).
  ds = pipeline.process_batches(ds.shuffle(seed=seed).repeat().map(_to_model), batch_size, pindex, pcount)
  steps = grain.MapDataset.range(start_step, 2**62).map(lambda i: ds[i])
  return iter(steps.to_iter_dataset(grain.ReadOptions(num_threads=2, prefetch_buffer_size=4)))


def test_pairs(data_config, num: int | None = None) -> dict:
  """The first `num` (all if None) test pairs at `data.crop_size`:
  {"input": uint8 [N, crop, crop, Cin], "target": uint8 [N, crop, crop, Cout]}.

  Cached (read-only arrays): grids and evaluation ask for the same pairs again and again.
  """
  return _test_pairs(data_config.to_json(sort_keys=True), num)


@functools.lru_cache(maxsize=8)
def _test_pairs(data_json: str, num):
  data_config = ml_collections.ConfigDict(json.loads(data_json))
  source = pairs(data_config, "test", data_config.crop_size)
  num = len(source) if num is None else min(num, len(source))
  items = [source[i] for i in range(num)]
  out = {"input": np.stack([a for a, _ in items]), "target": np.stack([b for _, b in items])}
  for array in out.values():
    array.flags.writeable = False
  return out
