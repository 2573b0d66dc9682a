"""Two unpaired image domains that need no download: crops of scikit-learn's sample photos.

scikit-learn ships two photographs (`sklearn.datasets.load_sample_images()`, 427x640):
a pagoda above a lake (china.jpg) and a dahlia (flower.jpg). Domain A is square crops of
the first, domain B of the second: different colours, textures and shapes, enough for a
CycleGAN to learn a visible translation in minutes on a CPU, on any machine, offline.

Each photo is first scaled by `scale`, then cut into `size` x `size` crops at positions
drawn from a generator seeded by (seed, domain, split), so the crops are the same on
every machine. Train and test crops are drawn independently from the whole photo: the
test crops are held-out *positions* of the same two scenes and may overlap training
crops. (Holding out a region instead would leave the splits with different content,
e.g. only petals in one and only background in the other.) Test numbers on this data
therefore show how well a run fits these scenes, not how it generalises to new ones.

Crops are uint8 [N, size, size, 3], like any dataset at the library's edge.
"""

import functools

import numpy as np
from PIL import Image

from aigc_jax.errors import UserError

# Domain -> file name of the photo in scikit-learn's sample images.
PHOTOS = {"A": "china.jpg", "B": "flower.jpg"}
SPLITS = ("train", "test")


@functools.lru_cache(maxsize=None)
def _photo(domain: str, scale: float) -> np.ndarray:
  from sklearn.datasets import load_sample_images
  photos = load_sample_images()
  by_name = {path.replace("\\", "/").rsplit("/", 1)[-1]: image
             for path, image in zip(photos.filenames, photos.images)}
  image = by_name[PHOTOS[domain]]
  if scale != 1.0:
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))
  return image


def crops(domain: str, split: str, num: int, size: int = 64, scale: float = 0.5,
          seed: int = 0) -> np.ndarray:
  """`num` crops uint8 [num, size, size, 3] of domain "A" or "B" for split "train" or "test".

  Raises UserError when `size` is larger than the scaled photo.
  """
  if domain not in PHOTOS:
    raise UserError(f"unknown photo domain {domain!r}; choose one of {', '.join(PHOTOS)}")
  if split not in SPLITS:
    raise UserError(f"unknown photo split {split!r}; choose one of {', '.join(SPLITS)}")
  image = _photo(domain, float(scale))
  h, w = image.shape[:2]
  if size > min(h, w):
    raise UserError(f"photo crops of {size} px do not fit in the {h}x{w} photo at scale {scale}; "
                    f"lower data.photo_size or raise data.photo_scale")
  rng = np.random.default_rng([seed, list(PHOTOS).index(domain), SPLITS.index(split)])
  tops = rng.integers(0, h - size + 1, size=num)
  lefts = rng.integers(0, w - size + 1, size=num)
  return np.stack([image[t:t + size, l:l + size] for t, l in zip(tops, lefts)])
