"""`aigc convert-inception` and `aigc stats`: the one-off steps before FID can be computed.

  aigc convert-inception pt_inception-2015-12-05-6726825d.pth inception_fid.safetensors
  aigc stats --data images/ --out ref.npz --inception-weights inception_fid.safetensors
"""

import argparse
import json
import os

from aigc_jax.cli import multihost
from aigc_jax.errors import UserError


def register(subparsers) -> None:
  convert = subparsers.add_parser(
      "convert-inception", help="convert pytorch-fid's Inception weights for this library",
      description="Convert pytorch-fid's FID Inception state dict "
                  "(pt_inception-2015-12-05-6726825d.pth) to a safetensors file that "
                  "--inception-weights / AIGC_INCEPTION_WEIGHTS take. Needs PyTorch.")
  convert.add_argument("input", metavar="IN.pth", help="pytorch-fid's .pth state dict")
  convert.add_argument("output", metavar="OUT", help="where to write the .safetensors file")
  convert.set_defaults(func=convert_inception)

  stats = subparsers.add_parser(
      "stats", help="FID reference statistics (mu, sigma) of a dataset or image folder",
      description="Compute Inception pool3 mean and covariance of reference images and "
                  "write them as an .npz with keys mu and sigma (pytorch-fid's layout).")
  stats.add_argument("--data", required=True, metavar="PATH_OR_NAME",
                     help="an image folder (png/jpg/..., searched recursively) or a "
                          "dataset name known to aigc_jax.data")
  stats.add_argument("--split", default="train",
                     help="dataset split; for a folder, the subfolder of that name if it "
                          "exists, else the folder itself (default: train)")
  stats.add_argument("--out", required=True, help="output .npz")
  add_inception_arguments(stats)
  multihost.add_flags(stats)
  stats.set_defaults(func=compute_stats)


def add_inception_arguments(parser) -> None:
  """The Inception options `aigc stats` and `aigc fid` share: weights, batch size, the
  resize convention and the statistics cache, checked in `check_batch_size`."""
  parser.add_argument("--inception-weights", default=None, metavar="PATH",
                      help="converted weights (default: $AIGC_INCEPTION_WEIGHTS)")
  parser.add_argument("--batch-size", type=int, default=50)
  parser.add_argument("--resize", choices=("pytorch", "clean"), default="pytorch",
                      help="pytorch: bilinear as pytorch-fid (default); clean: PIL bicubic "
                           "with antialiasing as clean-fid")
  parser.add_argument("--no-cache", action="store_true",
                      help="neither read nor write the content-keyed statistics cache "
                           "($AIGC_STATS_CACHE_DIR, default ~/.cache/aigc_jax/stats)")


def check_batch_size(args: argparse.Namespace) -> None:
  if args.batch_size < 1:
    raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")


def convert_inception(args: argparse.Namespace) -> int:
  try:
    import torch
  except ImportError:
    raise UserError("reading the .pth file needs PyTorch: pip install torch") from None
  from aigc_jax.metrics.inception import params_from_torch_state_dict, save_params
  if not os.path.isfile(args.input):
    raise UserError(f"no such file: {args.input}")
  try:
    state = torch.load(args.input, map_location="cpu", weights_only=True)
  except Exception as e:  # torch raises many types for files that are not a state dict
    raise UserError(f"cannot read {args.input} as a PyTorch state dict: {e}") from None
  if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
    state = state["state_dict"]
  try:
    variables = params_from_torch_state_dict(
        {k: v.detach().cpu().numpy() for k, v in state.items() if torch.is_tensor(v)})
  except ValueError as e:
    raise UserError(f"{args.input}: {e}") from None
  save_params(variables, args.output)
  print(f"wrote the FID Inception-v3 weights to {args.output}")
  return 0


def resolve_images(data: str, split: str, batch_size: int):
  """Images for `--data`/`--split`: (description, images, total, cache key parts).

  A folder (its `split` subfolder if there is one) is streamed file by file, so 50,000
  images never sit in memory; any other name is a dataset of `aigc_jax.data`, whose
  split comes as one uint8 array. The key parts name the content for the statistics
  cache (the files, or the array).
  """
  from aigc_jax.data import image_folder, load_images
  from aigc_jax.metrics.images import iter_image_files
  if os.path.isdir(data):
    folder = os.path.join(data, split) if os.path.isdir(os.path.join(data, split)) else data
    files = image_folder.image_files(folder)
    return folder, iter_image_files(files, batch_size), len(files), dict(files=files, root=folder)
  try:
    images = load_images(data, split)
  except KeyError as e:
    raise UserError(f"--data {data!r} is neither a folder nor a known dataset ({e})") from None
  return f"{data}:{split}", images, len(images), dict(array=images)


def compute_stats(args: argparse.Namespace) -> int:
  """Alone, or joined with other processes (`--coordinator ...`): each featurises its
  contiguous share of the images, and the float64 sums are added across processes."""
  from aigc_jax import distributed
  multihost.join(args)
  with distributed.exit_together("stats"):
    return _compute_stats(args)


def _share(images, content, batch_size):
  """This process's share of the images of `resolve_images` (all of them when alone)."""
  from aigc_jax import distributed
  if not distributed.is_multiprocess():
    return images
  if "files" in content:
    from aigc_jax.metrics.images import iter_image_files
    start, stop = distributed.process_range(len(content["files"]))
    return iter_image_files(content["files"][start:stop], batch_size)
  start, stop = distributed.process_range(len(images))
  return images[start:stop]


def _compute_stats(args: argparse.Namespace) -> int:
  from aigc_jax import distributed
  from aigc_jax.metrics import stats_cache
  from aigc_jax.metrics.fid import FeatureStats, save_stats
  from aigc_jax.metrics.images import require_inception_weights
  from aigc_jax.metrics.inception import iter_inception_features, load_params
  check_batch_size(args)
  weights = require_inception_weights(args.inception_weights)
  source, images, total, content = resolve_images(args.data, args.split, args.batch_size)
  key = None if args.no_cache else stats_cache.content_key(
      **content, weights_path=weights, resize=args.resize)
  hit = stats_cache.load(key) if key else None
  if distributed.agree(hit is None):  # Each host has its own cache: all compute if one must.
    hit = None
  if hit is not None:
    mu, sigma, count = hit
  else:
    variables = load_params(weights)
    stats = FeatureStats(2048)
    for pool3, _ in iter_inception_features(variables, _share(images, content, args.batch_size), args.batch_size,
                                            args.resize, progress=distributed.is_main(), total=total):
      stats.update(pool3)
    if distributed.is_multiprocess():  # The streaming sums of every process's share, added.
      stats.combine(distributed.sum_over_processes)
    if stats.count < 2:
      raise UserError(f"{source}: need at least 2 images for statistics, got {stats.count}")
    mu, sigma = stats.mean_cov()
    count = stats.count
    if key and distributed.is_main():
      stats_cache.store(key, mu, sigma, count)
  if not distributed.is_main():  # Every process has the statistics; one writes them.
    return 0
  save_stats(args.out, mu, sigma)
  print(json.dumps({"out": args.out, "source": source, "num_images": count,
                    "resize": args.resize, "dims": int(mu.shape[0]),
                    "cached": hit is not None}))
  return 0
