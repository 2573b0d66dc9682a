"""`aigc prepare` and `aigc augment`: a user's image folder as training data."""

from aigc_jax.errors import UserError


def register(subparsers):
  p = subparsers.add_parser(
      "prepare", help="prepare an image folder once as a dataset (before a long or multi-host run)",
      description="Decode every image of a folder once into a tensorflow-datasets dataset that "
                  "training with --config.data.name=folder --config.data.path=DIR reuses.")
  p.add_argument("--data", required=True, help="the image folder (flat, class sub-folders, train/ test/, "
                                               "or trainA/ trainB/)")
  p.add_argument("--out", default=None, help="data folder for the prepared dataset (then train with "
                                             "--config.data.data_dir=OUT); default $TFDS_DATA_DIR or "
                                             "~/tensorflow_datasets")
  p.add_argument("--test-fraction", type=float, default=None,
                 help="held-out fraction without train/ and test/ folders (the configs' default 0.1)")
  p.add_argument("--max-size", type=int, default=None,
                 help="largest shorter side stored (default 256): training uses data.max_size, raised to "
                      "the model's resolution if that is larger")
  p.set_defaults(func=_prepare)

  p = subparsers.add_parser("augment", help="write augmented copies of every image of a folder",
                            description="Write K augmented variants of each image (class sub-folders "
                                        "kept); the same seed writes the same files.")
  p.add_argument("--input", required=True, help="the image folder")
  p.add_argument("--out", required=True, help="the folder to write")
  p.add_argument("--copies", type=int, default=4, help="variants per image")
  p.add_argument("--ops", default="flip,rotate,crop,color", help="comma-separated: flip, rotate, crop, color")
  p.add_argument("--seed", type=int, default=0)
  p.set_defaults(func=_augment)


def _prepare(args):
  import tensorflow_datasets as tfds
  from aigc_jax.data import folder
  fraction = folder.DEFAULT_TEST_FRACTION if args.test_fraction is None else args.test_fraction
  max_size = folder.MAX_SIZE if args.max_size is None else args.max_size
  if max_size < 1:
    raise UserError("--max-size must be at least 1")
  directory = folder.prepare(args.data, args.out, test_fraction=fraction, max_size=max_size)
  info = tfds.builder_from_directory(directory).info
  sizes = ", ".join(f"{split} {s.num_examples}" for split, s in info.splits.items())
  labels = info.features["label"].names if "label" in info.features else []
  print(f"prepared {args.data}: {sizes} images" + (f"; {len(labels)} labels: {', '.join(labels)}" if labels else ""))
  print(f"stored in {directory}")
  extra = f" --config.data.data_dir={args.out}" if args.out else ""
  extra += f" --config.data.max_size={max_size}" if max_size != folder.MAX_SIZE else ""
  extra += f" --config.data.test_fraction={fraction}" if fraction != folder.DEFAULT_TEST_FRACTION else ""
  print(f"train with --config.data.name=folder --config.data.path={args.data}{extra}")
  return 0


def _augment(args):
  from aigc_jax.data import augment_folder
  written = augment_folder.augment_folder(args.input, args.out, args.copies, args.ops, args.seed)
  print(f"wrote {len(written)} images to {args.out}")
  return 0
