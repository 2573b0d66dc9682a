"""Images with captions: the data of text-conditioned models, held in memory.

A captioned split is its images (float32 [N, R, R, C] in [-1, 1], fitted to
`data.resolution` and `data.channels` as every source here does), their labels if the
dataset has classes, and one or more captions per image. Where the captions come from
is `data.caption_source`:
- "digits": the embedded `digits` with captions made from each image's label,
  thickness and slant (`aigc_jax.data.digit_captions`);
- "files": an image folder (`data.name = "folder"`, `data.path`, any layout of
  `aigc_jax.data.folder` but the CycleGAN one) with a text file beside each image,
  the same name with `.txt` (`cat.png` and `cat.txt`), one caption per line: the
  convention of image-text training folders. Images without one are skipped, with one
  warning that counts them;
- "feature": a tensorflow-datasets dataset whose records have a text feature named
  `data.caption_key` (a string, or a sequence of strings, or of dicts with a "text").

The images are read once and kept in memory (for captioned sets up to some tens of
thousands of small images). Training batches (`train_batches`) are a pure function of
(seed, step), like every other pipeline here: the images of an epoch are a seeded
permutation, and each example's caption is drawn among its captions per step.
"""

import dataclasses
import functools
import json
import os
import warnings

import numpy as np

from aigc_jax.data import folder, pipeline
from aigc_jax.errors import UserError

CAPTION_SOURCES = ("digits", "files", "feature")
# The captioned digits' caption seed of each split (other splits: 2).
_SPLIT_SEEDS = {"train": 0, "test": 1}


@dataclasses.dataclass(frozen=True)
class CaptionedSplit:
  """One split: images float32 [N, R, R, C] in [-1, 1]; labels int32 [N] or None;
  `captions[i]` the captions (a non-empty tuple of str) of image i; `attributes` int
  [N, 3] of the captioned digits' (digit, thickness, slant) levels, or None."""
  images: np.ndarray
  labels: np.ndarray | None
  captions: tuple[tuple[str, ...], ...]
  attributes: np.ndarray | None = None

  def all_captions(self) -> list[str]:
    return [c for cs in self.captions for c in cs]


def check(data_config):
  """Checks the caption keys of `config.data` (at load, without reading data)."""
  source = data_config.get("caption_source")
  if source is None:
    raise UserError("config key 'data.caption_source' is missing; configs/text_encoder_digits.py shows the "
                    "caption keys")
  if source not in CAPTION_SOURCES:
    raise UserError(f"unknown data.caption_source {source!r}; choose one of {', '.join(CAPTION_SOURCES)}")
  if source == "digits" and data_config.name != "digits":
    raise UserError(f"data.caption_source 'digits' needs data.name 'digits', got {data_config.name!r}")
  if source == "files" and data_config.name != folder.DATASET_NAME:
    raise UserError(f"data.caption_source 'files' reads .txt files beside the images of a folder: "
                    f"set data.name to 'folder' and data.path, got data.name {data_config.name!r}")


def load_split(data_config, split: str) -> CaptionedSplit:
  """The captioned `split` ("train" or "test") of `config.data` (cached per config)."""
  return _load(json.dumps(data_config.to_dict(), sort_keys=True, default=str), split)


@functools.lru_cache(maxsize=4)
def _load(config_json: str, split: str) -> CaptionedSplit:
  import ml_collections
  data_config = ml_collections.ConfigDict(json.loads(config_json))
  check(data_config)
  source = data_config.caption_source
  if source == "files":
    return _from_folder(data_config, split)
  builder = pipeline.builder_for(data_config)
  if split not in builder.info.splits:
    raise UserError(f"dataset {data_config.name!r} has no split {split!r}; it has {', '.join(builder.info.splits)}")
  records = builder.as_data_source(split=split)
  # One batch of the whole split, in the records' order.
  batch = pipeline.make_dataset(data_config, split, batch_size=max(1, len(records)), train=False,
                                process_index=0, process_count=1)[0]
  labels = batch.get("label")
  if source == "digits":
    # Measured on the stored 8x8 images, in the records' order (the pipeline's order).
    from aigc_jax.data import digit_captions
    stored = np.stack([np.asarray(records[i]["image"], np.uint8) for i in range(len(records))])
    captions, attributes = digit_captions.captions_for(stored, labels, seed=_SPLIT_SEEDS.get(split, 2))
    return CaptionedSplit(batch["image"], labels, captions, attributes)
  key = data_config.caption_key
  captions = []
  for i in range(len(records)):
    record = records[i]  # Each index decodes the whole record (its image too): once.
    if key not in record:
      raise UserError(f"dataset {data_config.name!r} has no feature {key!r}; set data.caption_key to its "
                      f"text feature")
    captions.append(_texts(record[key]) or ("",))
  return CaptionedSplit(batch["image"], labels, tuple(captions))


def _texts(value) -> tuple[str, ...]:
  """A text feature's value (bytes, str, or a sequence of them or of {"text": ...}) ->
  its non-empty captions."""
  if isinstance(value, dict):
    value = value.get("text", "")
  if isinstance(value, (bytes, np.bytes_)):
    value = value.decode("utf-8", "replace")
  if isinstance(value, str):
    return tuple(line.strip() for line in value.splitlines() if line.strip())
  return tuple(t for v in value for t in _texts(v))


def _from_folder(data_config, split: str) -> CaptionedSplit:
  layout = folder.discover(data_config.path, data_config.get("test_fraction", folder.DEFAULT_TEST_FRACTION))
  if layout.kind == "domains":
    raise UserError(f"{layout.root} is a CycleGAN folder (trainA/, trainB/); captions need one image set")
  if split not in layout.splits:
    raise UserError(f"folder {layout.root} has no {split!r} split")
  resolution, channels = data_config.resolution, data_config.get("channels", None) or 3
  policy = "center_crop" if data_config.get("resize", "resize") != "resize" else "resize"
  images, labels, captions, missing = [], [], [], []
  for entry in layout.splits[split]:
    if not entry.path.lower().endswith(folder.IMAGE_EXTENSIONS):
      continue
    path = os.path.join(layout.root, entry.path)
    text_path = os.path.splitext(path)[0] + ".txt"
    if not os.path.isfile(text_path):
      missing.append(entry.path)
      continue
    with open(text_path, encoding="utf-8", errors="replace") as f:
      lines = _texts(f.read())
    if not lines:
      missing.append(entry.path)
      continue
    image = folder.load_image(path)
    image = image[..., None] if image.ndim == 2 else image
    if channels == 3 and image.shape[-1] == 1:
      image = np.repeat(image, 3, axis=-1)
    elif channels == 1 and image.shape[-1] == 3:
      image = np.round(image @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)[..., None]
    images.append(pipeline.fit_uint8(image, resolution, policy))
    labels.append(entry.label)
    captions.append(lines)
  if missing:
    warnings.warn(f"{len(missing)} image(s) of {layout.root} ({split}) have no caption file beside them "
                  f"(e.g. {missing[0]} without {os.path.splitext(missing[0])[0]}.txt) and are skipped",
                  stacklevel=2)
  if not images:
    raise UserError(f"no image of {layout.root} ({split}) has a caption: put a .txt file beside each image, "
                    f"one caption per line")
  labels = np.asarray(labels, np.int32) if layout.kind == "classes" else None
  return CaptionedSplit(pipeline.to_model_range(np.stack(images)), labels, tuple(captions))


class TokenTable:
  """Every caption of a split as ids: `tokens` int32 [total, L], and where image i's
  captions are, rows `start[i] .. start[i] + count[i] - 1`."""

  def __init__(self, split: CaptionedSplit, tokenizer, max_len: int):
    self.count = np.asarray([len(c) for c in split.captions], np.int64)
    self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]])
    self.tokens = tokenizer.encode_batch(split.all_captions(), max_len)


def train_batches(split: CaptionedSplit, tokenizer, max_len: int, *, batch_size: int, seed: int,
                  start_step: int = 0, process_index: int | None = None, process_count: int | None = None):
  """Yields this process's part of the batches of steps `start_step, start_step + 1, ...`.

  Each is {"image": float32 [b, R, R, C], "tokens": int32 [b, max_len]} plus "label"
  int32 [b] when the split has labels; b = batch_size / process_count. The batch of step s
  is a pure function of (seed, s).
  """
  pindex, pcount = pipeline.process_shard(process_index, process_count)
  pipeline.check_batch_split(batch_size, pcount)
  n = len(split.images)
  if n < batch_size:
    raise UserError(f"{n} captioned training images are fewer than one batch of {batch_size}; "
                    f"lower --config.batch_size or add images")
  table = TokenTable(split, tokenizer, max_len)
  per_epoch = n // batch_size
  step = start_step
  while True:
    epoch, j = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n)
    idx = order[j * batch_size:(j + 1) * batch_size]
    pick = np.random.default_rng([seed, epoch, j, 1]).random(batch_size)
    rows = table.start[idx] + np.floor(pick * table.count[idx]).astype(np.int64)
    mine = slice(pindex * (batch_size // pcount), (pindex + 1) * (batch_size // pcount))
    batch = {"image": split.images[idx[mine]], "tokens": table.tokens[rows[mine]]}
    if split.labels is not None:
      batch["label"] = split.labels[idx[mine]]
    yield batch
    step += 1
