"""Trains the digits classifier that `aigc eval` uses and writes its weights.

  python scripts/train_digits_classifier.py [--out aigc_jax/assets/digits_classifier.npz]
"""

import argparse

from aigc_jax.evaluation import digits_classifier


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default=digits_classifier.WEIGHTS_PATH)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--steps", type=int, default=3000)
  args = parser.parse_args()
  params, accuracy = digits_classifier.train(seed=args.seed, num_steps=args.steps)
  digits_classifier.save_params(params, args.out)
  print(f"test accuracy {accuracy:.4f}; weights written to {args.out}")


if __name__ == "__main__":
  main()
