"""Two unpaired image domains, A and B, for CycleGAN: sources, training batches, test images.

A source is picked by name with `config.data.source`:
- "tfds": a tensorflow-datasets `cycle_gan/<name>` dataset (`data.name`), splits trainA,
  trainB, testA, testB. It must be prepared in `data.data_dir` unless `data.download`.
- "folder": a folder `data.path` with trainA/ and trainB/ (and optionally testA/,
  testB/) of image files, prepared once into a tfds dataset with those four splits
  and streamed from it like "tfds" (`aigc_jax.data.folder`: never the whole folder in
  memory; unreadable files skipped with a warning each). Without testA/ (testB/),
  grids and `aigc eval` use the training images of that domain.
- "photos": crops of scikit-learn's two sample photos (`aigc_jax.data.photos`), no
  download: `data.photo_size`, `data.photo_scale`, `data.num_train`, `data.num_test`.

Training follows the release's "resize_and_crop": every image is resized (bicubic) to
`load_size` x `load_size` here, on the host; the random `crop_size` crop and the random
horizontal flip happen in the jitted train step with the step's key (`augment`), so a
batch is a pure function of (seed, step) and a resumed run reads what an uninterrupted
one would. Test images are resized straight to `crop_size` (the release tests with
load_size = crop_size).

Batches are {"A": float32 [b, load_size, load_size, 3], "B": same} in [-1, 1]. The two
domains are shuffled independently (different seeds), so pairs are never aligned: the
data are unpaired, as CycleGAN assumes.
"""

import functools
import json
import warnings

import dm_pix as pix
import grain
import jax
import ml_collections
import numpy as np
from PIL import Image

from aigc_jax.data import augment as augment_lib
from aigc_jax.data import folder, photos, pipeline
from aigc_jax.errors import UserError

DOMAINS = ("A", "B")
SPLITS = ("train", "test")


# ------------------------------------------------------------------------ sources
# Each source: (data_config, domain, split) -> grain.MapDataset of uint8 [H, W, 3].

def _tfds_images(data_config, domain, split):
  builder = pipeline.get_builder(data_config.name, data_config.get("data_dir"),
                                 data_config.get("download", False))
  name = f"{split}{domain}"
  splits = builder.info.splits
  if splits and name not in splits:  # (tfds' mock builders list no splits; trust them.)
    raise UserError(f"dataset {data_config.name!r} has no split {name!r}; it has {', '.join(splits)}; "
                    f"CycleGAN needs trainA, trainB, testA, testB (e.g. cycle_gan/horse2zebra)")
  return grain.MapDataset.source(builder.as_data_source(split=name)).map(_rgb_of_record)


def _rgb_of_record(record):
  image = np.asarray(record["image"], np.uint8)
  return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def _folder_images(data_config, domain, split):
  layout = folder.discover(data_config.get("path"))
  if layout.kind != "domains":
    raise UserError(f"CycleGAN folder {layout.root} has no trainA/ or trainB/; "
                    f"an unpaired dataset folder holds trainA/ and trainB/ (testA/, testB/ optional)")
  builder = folder.builder(data_config)
  name = f"{split}{domain}"
  if name not in builder.info.splits:
    warnings.warn(f"no {layout.root}/{name}; using the images of train{domain}/ for grids and evaluation",
                  stacklevel=3)
    name = f"train{domain}"
  return grain.MapDataset.source(builder.as_data_source(split=name)).map(_rgb_of_record)


def _photo_images(data_config, domain, split):
  num = data_config.num_train if split == "train" else data_config.num_test
  return grain.MapDataset.source(photos.crops(
      domain, split, num, size=data_config.photo_size, scale=data_config.photo_scale,
      seed=data_config.get("photo_seed", 0)))


SOURCES = {"tfds": _tfds_images, "folder": _folder_images, "photos": _photo_images}


def domain_images(data_config, domain: str, split: str) -> grain.MapDataset:
  """The images of `domain` ("A" or "B") in `split` ("train" or "test"): uint8 [H, W, 3] each."""
  source = data_config.get("source", "tfds")
  if source not in SOURCES:
    raise UserError(f"unknown data.source {source!r}; choose one of {', '.join(SOURCES)}")
  if domain not in DOMAINS or split not in SPLITS:
    raise ValueError(f"domain must be one of {DOMAINS} and split one of {SPLITS}")
  return SOURCES[source](data_config, domain, split)


# ------------------------------------------------------------------------ preprocessing

def resize(image: np.ndarray, size: int) -> np.ndarray:
  """uint8 [H, W, 3] -> uint8 [size, size, 3], bicubic (antialiased when shrinking)."""
  if image.shape[:2] == (size, size):
    return image
  return np.asarray(Image.fromarray(image).resize((size, size), Image.BICUBIC))


def augment(key, images, crop_size: int, flip: bool):
  """float [B, L, L, C] -> [B, crop_size, crop_size, C]: a random crop per image (uniform
  over positions, as the release), then a left-right flip with probability 1/2 if `flip`.
  Pure and jit-able; the same key gives the same result."""
  k_crop, k_flip = jax.random.split(key)
  b, _, _, c = images.shape
  crop = lambda k, im: pix.random_crop(k, im, (crop_size, crop_size, c))
  images = jax.vmap(crop)(jax.random.split(k_crop, b), images)
  return augment_lib.random_flip(k_flip, images) if flip else images


def _domain_seed(seed: int, domain: str) -> int:
  return int(np.random.SeedSequence([seed, DOMAINS.index(domain)]).generate_state(1)[0])


def train_batches(config, start_step: int = 0, process_index: int | None = None,
                  process_count: int | None = None):
  """Yields this process's batches for steps `start_step, start_step + 1, ...`.

  Each is {"A": float32 [b, L, L, 3], "B": float32 [b, L, L, 3]} in [-1, 1], with
  L = `config.data.load_size` and b = `config.batch_size` / process count. Each domain
  is an endless shuffled stream (reshuffled every epoch) with its own seed derived from
  `config.seed`. Batches are read ahead on background threads.
  """
  d = config.data
  pindex, pcount = pipeline.process_shard(process_index, process_count)
  pipeline.check_batch_split(config.batch_size, pcount)
  if d.crop_size > d.load_size:
    raise UserError(f"data.crop_size {d.crop_size} is larger than data.load_size {d.load_size}")
  to_model = lambda image: pipeline.to_model_range(resize(image, d.load_size))
  streams = {}
  for domain in DOMAINS:
    ds = domain_images(d, domain, "train")
    if len(ds) == 0:
      raise UserError(f"domain {domain} has no training images")
    ds = ds.shuffle(seed=_domain_seed(config.seed, domain)).repeat().map(to_model)
    # This process's rows of each global batch (the same global batches for any count).
    streams[domain] = pipeline.process_batches(ds, config.batch_size, pindex, pcount)
  steps = grain.MapDataset.range(start_step, 2**62).map(
      lambda i: {domain: stream[i] for domain, stream in streams.items()})
  # A few threads and a short queue: batches are small, and the host is shared.
  return iter(steps.to_iter_dataset(grain.ReadOptions(num_threads=2, prefetch_buffer_size=4)))


def test_images(data_config, domain: str, num: int | None = None) -> np.ndarray:
  """The first `num` (all if None) test images of `domain`, uint8 [N, crop, crop, 3].

  Cached (read-only arrays): grids ask for the same images at every `sample_every`.
  """
  return _test_images(data_config.to_json(sort_keys=True), domain, num)


@functools.lru_cache(maxsize=8)
def _test_images(data_json: str, domain: str, num):
  data_config = ml_collections.ConfigDict(json.loads(data_json))
  ds = domain_images(data_config, domain, "test")
  num = len(ds) if num is None else min(num, len(ds))
  images = np.stack([resize(ds[i], data_config.crop_size) for i in range(num)])
  images.flags.writeable = False
  return images
