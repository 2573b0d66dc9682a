"""`aigc convert-inception` and `aigc stats`: the one-off steps before FID can be computed.

  aigc convert-inception pt_inception-2015-12-05-6726825d.pth inception_fid.safetensors
  aigc stats --data images/ --out ref.npz --inception-weights inception_fid.safetensors
"""

import argparse
import importlib
import json
import os

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
  stats.add_argument("--inception-weights", default=None, metavar="PATH",
                     help="converted weights (default: $AIGC_INCEPTION_WEIGHTS)")
  stats.add_argument("--batch-size", type=int, default=50)
  stats.add_argument("--resize", choices=("pytorch", "clean"), default="pytorch",
                     help="pytorch: bilinear as pytorch-fid (default); clean: PIL bicubic "
                          "with antialiasing as clean-fid")
  stats.set_defaults(func=compute_stats)


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
  """Images for `--data`/`--split`: (description, uint8 array or iterable of batches).

  A folder is read with iter_image_folder (its `split` subfolder if there is one). Any
  other name goes to `aigc_jax.data.load_images(name, split)` when that function exists,
  so datasets become usable here as soon as the data module provides it.
  """
  from aigc_jax.metrics.images import iter_image_folder
  if os.path.isdir(data):
    folder = os.path.join(data, split) if os.path.isdir(os.path.join(data, split)) else data
    return folder, iter_image_folder(folder, batch_size)
  try:
    load_images = importlib.import_module("aigc_jax.data").load_images
  except (ImportError, AttributeError):
    load_images = None
  if load_images is None:
    raise UserError(f"--data {data!r} is not a folder, and no dataset loader "
                    "(aigc_jax.data.load_images) is available")
  try:
    return f"{data}:{split}", load_images(data, split)
  except KeyError as e:
    raise UserError(f"--data {data!r} is neither a folder nor a known dataset ({e})") from None


def compute_stats(args: argparse.Namespace) -> int:
  from aigc_jax.metrics.fid import FeatureStats, save_stats
  from aigc_jax.metrics.images import require_inception_weights
  from aigc_jax.metrics.inception import iter_inception_features, load_params
  if args.batch_size < 1:
    raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
  variables = load_params(require_inception_weights(args.inception_weights))
  source, images = resolve_images(args.data, args.split, args.batch_size)
  stats = FeatureStats()
  for pool3, _ in iter_inception_features(variables, images, args.batch_size, args.resize,
                                          progress=True):
    stats.update(pool3)
  if stats.count < 2:
    raise UserError(f"{source}: need at least 2 images for statistics, got {stats.count}")
  mu, sigma = stats.mean_cov()
  save_stats(args.out, mu, sigma)
  print(json.dumps({"out": args.out, "source": source, "num_images": stats.count,
                    "resize": args.resize, "dims": int(mu.shape[0])}))
  return 0
