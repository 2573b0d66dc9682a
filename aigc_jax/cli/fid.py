"""`aigc fid A B`: FID (and precision/recall/density/coverage) between two image sources.

  aigc fid samples/ real/ --inception-weights inception_fid.safetensors
  aigc fid runs/dcgan_cifar ref.npz --num-samples 50000
  aigc fid samples/ real/ --metrics fid,precision,recall,density,coverage
"""

import argparse
import json

from aigc_jax.cli import metrics
from aigc_jax.errors import UserError


def register(subparsers) -> None:
  parser = subparsers.add_parser(
      "fid", help="FID between two image folders, statistics files or training runs",
      description="FID between A (the images judged) and B (the reference). Each is an "
                  "image folder (searched recursively), an .npz of statistics (mu, sigma) "
                  "or a training workdir, whose latest checkpoint generates the samples. "
                  "Prints one JSON object; exactly --num-samples images are used from "
                  "each side, none dropped or repeated.")
  parser.add_argument("a", metavar="A", help="folder, statistics .npz or workdir judged")
  parser.add_argument("b", metavar="B", help="folder, statistics .npz or workdir: the reference")
  parser.add_argument("--num-samples", type=int, default=None, metavar="N",
                      help="images used from each folder, or generated from a workdir "
                           "(default: all of a folder; 10000 from a workdir)")
  parser.add_argument("--metrics", default="fid", metavar="LIST",
                      help="comma-separated from fid,precision,recall,density,coverage "
                           "(the k-NN metrics need images on both sides; default: fid)")
  metrics.add_inception_arguments(parser)
  parser.add_argument("--save-stats", default=None, metavar="OUT.npz",
                      help="also write B's statistics (mu, sigma, num_images) here")
  parser.add_argument("--seed", type=int, default=0, help="sampling seed for a workdir")
  parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
  from aigc_jax.metrics.compare import fid_between
  if args.num_samples is not None and args.num_samples < 2:
    raise UserError(f"--num-samples must be at least 2, got {args.num_samples}")
  metrics.check_batch_size(args)
  result = fid_between(args.a, args.b, num_samples=args.num_samples,
                       batch_size=args.batch_size, resize=args.resize,
                       weights_path=args.inception_weights, metrics=args.metrics,
                       save_stats_path=args.save_stats, seed=args.seed,
                       cache=not args.no_cache)
  print(json.dumps(result))
  return 0
