"""`aigc train`, `aigc sample`, `aigc eval`: parse arguments, call the library."""

import argparse
import json
import os
import sys

from aigc_jax.cli import multihost
from aigc_jax.errors import UserError


def register(subparsers):
  p = subparsers.add_parser(
      "train", help="train a model from a config file",
      description="Train a model. Extra --config.KEY=VALUE arguments override config keys "
                  "(e.g. --config.num_steps=500 --config.optimizer.g_lr=1e-4); a wrong key or "
                  "type is a one-line error. Run the same command again to resume.",
      epilog=_CONFIGS_EPILOG, formatter_class=_ConfigsEpilogFormatter)
  p.add_argument("--config", default=None,
                 help="config file (configs/NAME.py[:VARIANT]) or shipped config name; default dcgan_digits")
  p.add_argument("--workdir", default=None, help="output folder; default runs/<config name>")
  multihost.add_flags(p)
  p.set_defaults(func=_train, accepts_overrides=True)

  p = subparsers.add_parser("sample", help="write samples of a trained run: a grid, or one PNG each")
  p.add_argument("--workdir", required=True)
  p.add_argument("--num", type=int, default=64, help="number of samples")
  out = p.add_mutually_exclusive_group(required=True)
  out.add_argument("--out", help="output PNG file: one grid of the samples")
  out.add_argument("--out-dir", help="output folder: one PNG per sample (a sub-folder per label for class-"
                                     "conditional runs), a dataset every family can train on")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--labels", default=None, help="comma-separated class labels (conditional runs)")
  p.add_argument("--attributes", default=None, help="comma-separated attribute names (conditional runs)")
  p.add_argument("--prompt", action="append", default=None,
                 help="text2img runs: a prompt (repeat the flag for several; the samples take them in turn)")
  p.add_argument("--prompts-file", default=None, help="text2img runs: a text file of prompts, one per line")
  p.add_argument("--steps", type=int, default=None,
                 help="diffusion runs: sampler steps (Heun: 2 * steps - 1 network evaluations)")
  p.add_argument("--guidance", type=float, default=None,
                 help="class-conditional diffusion runs: guidance scale g (1: conditional, 0: unconditional)")
  p.set_defaults(func=_sample)

  p = subparsers.add_parser("eval", help="evaluate a trained run; prints one JSON object")
  p.add_argument("--workdir", required=True)
  p.add_argument("--num-samples", type=int, default=None,
                 help="generated samples to score (restoration runs: test images, default all)")
  p.add_argument("--seed", type=int, default=None, help="seed of what is generated or corrupted (default 0)")
  p.add_argument("--metrics", default=None,
                 help="comma-separated Inception-feature metrics: fid,is,kid,precision,recall,density,coverage,intra_fid,memorisation")
  p.add_argument("--ref", default=None, help="reference statistics npz (mu, sigma) for FID")
  p.add_argument("--inception-weights", default=None,
                 help="converted Inception weights (or set AIGC_INCEPTION_WEIGHTS)")
  p.add_argument("--iwae-samples", type=int, default=None,
                 help="VAE runs: importance samples k of the test log-likelihood bound")
  p.add_argument("--classifier", default=None, metavar="FILE",
                 help="runs on a labelled folder: a classifier of scripts/train_folder_classifier.py; "
                      "adds its IS, FID and the conditional accuracy")
  p.add_argument("--mask-type", default=None,
                 help="inpainting runs: the test masks, center (default), boxes or strokes")
  p.add_argument("--steps", type=int, default=None, help="diffusion runs: sampler steps")
  p.add_argument("--guidance", type=float, default=None,
                 help="class-conditional diffusion runs: guidance scale g (default the config's, 1)")
  multihost.add_flags(p)
  p.set_defaults(func=_eval)


_CONFIGS_EPILOG = "<the shipped configs>"


class _ConfigsEpilogFormatter(argparse.RawDescriptionHelpFormatter):
  """Writes the shipped configs in place of `_CONFIGS_EPILOG` when the help is printed:
  listing them imports every config module (seconds, tfds included), which every `aigc
  train` would pay if the epilog were built with the parser."""

  def add_text(self, text):
    super().add_text(_configs_epilog() if text == _CONFIGS_EPILOG else text)


def _configs_epilog() -> str:
  """The shipped configs and their variants, for `aigc train --help`."""
  from aigc_jax import configlib
  lines = ["shipped configs (--config NAME or configs/NAME.py, variants as NAME:VARIANT[+VARIANT]):"]
  for name, variants in configlib.shipped_variants().items():
    lines.append(f"  {name}" + (f"  [{', '.join(variants)}]" if variants else ""))
  return "\n".join(lines)


def _train(args):
  """Without --config, a workdir that holds a run resumes with the run's own config."""
  from aigc_jax import distributed
  multihost.join(args)
  with distributed.exit_together("train"):
    return _train_joined(args)


def _train_joined(args):
  from aigc_jax import configlib
  from aigc_jax.train import loop
  name = os.path.splitext(os.path.basename((args.config or configlib.DEFAULT_CONFIG).partition(":")[0]))[0]
  workdir = args.workdir or os.path.join("runs", name)
  if args.config is None and os.path.exists(os.path.join(workdir, "config.json")):
    config = configlib.config_from_workdir(workdir)
    print(f"resuming {workdir} with its own config.json", file=sys.stderr)
  else:
    config = configlib.load_config(args.config)
  configlib.apply_overrides(config, args.overrides)
  loop.train_and_evaluate(config, workdir, progress=True)
  return 0


def _split_list(text):
  return [s.strip() for s in text.split(",") if s.strip()] if text else None


def _sample(args):
  import jax
  from aigc_jax import images, inference
  if args.num < 1:
    raise UserError("--num must be at least 1")
  prompts = _prompts(args)
  run = inference.load(args.workdir)
  labels, attributes = _split_list(args.labels), _split_list(args.attributes)
  settings = {"steps": args.steps, "guidance": args.guidance}  # Family options (diffusion).
  settings["prompts"] = prompts  # text2img.
  if args.out_dir:
    from aigc_jax.data import export
    paths = export.export_samples(
        lambda k, n, names: inference.sample(run, k, n, labels=names or labels, attributes=attributes,
                                             **settings),
        args.out_dir, args.num, jax.random.key(args.seed), () if labels else _class_names(run))
    print(f"wrote {len(paths)} samples to {args.out_dir}")
    return 0
  samples = inference.sample(run, jax.random.key(args.seed), args.num, labels=labels, attributes=attributes,
                             **settings)
  images.save_grid(samples, args.out)
  print(f"wrote {args.num} samples to {args.out}")
  return 0


def _prompts(args):
  """The prompts of --prompt and --prompts-file, in that order (None if neither); only a
  text2img run takes them."""
  prompts = list(args.prompt or [])
  if args.prompts_file:
    try:
      with open(args.prompts_file, encoding="utf-8") as f:
        from_file = [line.strip() for line in f if line.strip()]
    except OSError as e:
      raise UserError(f"cannot read --prompts-file {args.prompts_file}: {e.strerror or e}") from e
    if not from_file:
      raise UserError(f"--prompts-file {args.prompts_file} holds no prompt (one per line)")
    prompts += from_file
  if not prompts:
    return None
  from aigc_jax import configlib
  task = configlib.config_from_workdir(args.workdir).get("task")
  if task != "text2img":
    raise UserError(f"--prompt and --prompts-file are for text-conditional (text2img) runs; "
                    f"{args.workdir!r} is a {task!r} run")
  return prompts


def _class_names(run):
  """The class names of a class-conditional GAN, VAE or diffusion run (one sub-folder each), else ()."""
  model = run.config.get("model", {})
  conditional = (model.get("conditioning") == "class" if run.config.task == "gan"
                 else run.config.task in ("vae", "diffusion") and model.get("num_classes"))
  if not conditional:
    return ()
  from aigc_jax.data import pipeline
  return tuple(pipeline.dataset_info(run.opts.data.config).label_names)


def _eval(args):
  from aigc_jax import distributed
  for flag in ("num_samples", "iwae_samples"):
    value = getattr(args, flag)
    if value is not None and value < 1:
      raise UserError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
  multihost.join(args)
  with distributed.exit_together("eval"):
    _eval_joined(args)
  return 0


def _eval_joined(args):
  from aigc_jax import distributed, evaluation, inference
  run = inference.load(args.workdir)
  result = evaluation.evaluate(
      run, num_samples=args.num_samples, seed=args.seed, metrics=_split_list(args.metrics), ref=args.ref,
      inception_weights=args.inception_weights, iwae_samples=args.iwae_samples, mask_type=args.mask_type,
      steps=args.steps, guidance=args.guidance, classifier=args.classifier)
  if distributed.is_main():  # Every process computes the same figures; one prints them.
    json.dump(result, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
