"""Clean images for restoration runs: training batches and the held-out test images.

Restoration learns from clean images alone: the train step makes the corrupted inputs
itself (masks or noise drawn with the step's key, `aigc_jax.restoration.masks`), so a
batch is a pure function of (seed, step) and a resumed run sees what an uninterrupted
one would. A source is picked by `config.data.source`:
- "tfds" (default): any tensorflow-datasets builder the library reads (`digits`,
  embedded; catalog datasets such as `celeb_a`, prepared in `data.data_dir`; a folder of
  the user's images, `data.name = "folder"`, `data.path`), fitted to `data.resolution`
  with `data.channels` channels, as `aigc_jax.data.pipeline` does. "folder" is the same
  source (`data.name` is then taken as "folder"), so a photo config can be pointed at a
  folder with `--config.data.source=folder --config.data.path=DIR` too.
- "photos": crops of scikit-learn's two sample photographs (`aigc_jax.data.photos`, both
  domains pooled), `data.photo_size` pixels at `data.photo_scale`, `data.num_train` /
  `data.num_test` crops; no download.

Images come out float32 [B, R, R, C] in [-1, 1], like every training batch of the library.
"""

import grain
import ml_collections
import numpy as np

from aigc_jax.data import photos, pipeline
from aigc_jax.errors import UserError


def _photo_crops(data_config, split: str) -> np.ndarray:
  num = data_config.num_train if split == "train" else data_config.num_test
  per_domain = [photos.crops(domain, split, (num + 1) // 2 if i == 0 else num // 2,
                             size=data_config.photo_size, scale=data_config.photo_scale,
                             seed=data_config.get("photo_seed", 0))
                for i, domain in enumerate(photos.PHOTOS)]
  images = np.concatenate(per_domain)
  if data_config.get("channels", 3) == 1:
    images = np.round(images @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)[..., None]
  return images


def _check_source(data_config) -> str:
  """The source: "tfds" (which reads folders too) or "photos"."""
  source = data_config.get("source", "tfds")
  if source not in ("tfds", "photos", "folder"):
    raise UserError(f"unknown data.source {source!r}; choose one of tfds, photos, folder")
  if source == "folder" or data_config.get("name") == "folder":
    return "tfds"
  return source


def _pipeline_config(data_config):
  """`config.data` for the pipeline: with source "folder", the name is "folder"."""
  if data_config.get("source") != "folder":
    return data_config
  data_config = ml_collections.ConfigDict(data_config.to_dict())
  data_config.name = "folder"
  return data_config


def train_batches(config, start_step: int = 0):
  """Yields {"image": float32 [b, R, R, C]} for steps `start_step, start_step + 1, ...`."""
  d = config.data
  if _check_source(d) == "tfds":
    stream = pipeline.train_batches(_pipeline_config(d), batch_size=config.batch_size, seed=config.seed,
                                    start_step=start_step)
    return ({"image": batch["image"]} for batch in stream)
  pindex, pcount = pipeline.process_shard()
  pipeline.check_batch_split(config.batch_size, pcount)
  crops = _photo_crops(d, "train")
  ds = grain.MapDataset.source(list(crops)).shuffle(seed=config.seed).repeat()
  ds = ds.map(lambda image: {"image": pipeline.to_model_range(image)})
  # This process's rows of each global batch (the same global batches for any count).
  return pipeline.batches_from(pipeline.process_batches(ds, config.batch_size, pindex, pcount), start_step)


def test_images(config, num: int | None = None) -> np.ndarray:
  """The first `num` (default all) test images, float32 [N, R, R, C] in [-1, 1], in order."""
  return split_images(config, "test", num)


def split_images(config, split: str, num: int | None = None) -> np.ndarray:
  """The first `num` (default all) images of `split`, float32 [N, R, R, C] in [-1, 1], in
  stored order (unshuffled)."""
  d = config.data
  if _check_source(d) == "photos":
    images = pipeline.to_model_range(_photo_crops(d, split))
    return images[:num]
  ds = pipeline.make_dataset(_pipeline_config(d), split, batch_size=256, train=False, process_index=0, process_count=1)
  out, total = [], 0
  for i in range(len(ds)):
    out.append(ds[i]["image"])
    total += len(out[-1])
    if num is not None and total >= num:
      break
  return np.concatenate(out)[:num]
