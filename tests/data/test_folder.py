"""The folder data source: layouts, preparation and reuse, bad files, one-line errors,
reading through the pipeline (labels, resize policies, resume), on tiny generated folders."""

import os

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from aigc_jax.data import cyclegan_data, folder, pipeline, restoration_data
from aigc_jax.errors import UserError

SIZES = [(8, 8), (20, 13), (13, 20), (9, 11), (16, 12), (10, 10)]


def _image(path, size=(8, 8), mode="RGB", value=None, seed=0):
  """Writes a random (or constant `value`) image of `size` (w, h) in `mode`."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  rng = np.random.default_rng(seed)
  w, h = size
  if value is not None:
    Image.new(mode, size, value).save(path)
  elif mode == "L":
    Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(path)
  else:
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).convert(mode).save(path)


def _flat(root, n=6, mode="RGB"):
  for i in range(n):
    _image(os.path.join(root, f"img{i}.png"), SIZES[i % len(SIZES)], mode, seed=i)
  return str(root)


def _classes(root, names=("zebra", "ant"), n=3):
  for j, name in enumerate(names):
    for i in range(n):
      _image(os.path.join(root, name, f"{i}.png"), SIZES[(i + j) % len(SIZES)], seed=10 * j + i)
  return str(root)


def _cfg(path, data_dir, **kw):
  return ml_collections.ConfigDict({"name": "folder", "path": str(path), "data_dir": str(data_dir),
                                    "resolution": 8, "channels": 3, "resize": "resize",
                                    "test_fraction": 0.2, **kw})


def _read(directory, split):
  source = tfds.builder_from_directory(directory).as_data_source(split=split)
  return [source[i] for i in range(len(source))]


# ------------------------------------------------------------------------ layouts

def test_flat_folder_is_unlabelled_with_a_seeded_held_out_split(tmp_path):
  root = _flat(tmp_path / "photos", n=6)
  Image.new("L", (12, 9), 77).save(os.path.join(root, "grey.png"))
  directory = folder.prepare(root, tmp_path / "data", test_fraction=0.3)
  info = tfds.builder_from_directory(directory).info
  assert set(info.features) == {"image"}
  assert info.features["image"].shape == (None, None, 3)  # Colour present: stored RGB.
  assert {s: v.num_examples for s, v in info.splits.items()} == {"train": 5, "test": 2}
  shapes = sorted(r["image"].shape for s in ("train", "test") for r in _read(directory, s))
  assert shapes == sorted([(h, w, 3) for w, h in SIZES] + [(9, 12, 3)])
  # The held-out files are the same on every preparation (a fixed seed, not the run's).
  assert folder.discover(root, 0.3).splits == folder.discover(root, 0.3).splits


def test_class_folders_give_sorted_label_names_through_to_dataset_info(tmp_path):
  root = _classes(tmp_path / "animals", names=("zebra", "ant"), n=4)
  cfg = _cfg(root, tmp_path / "data")
  assert pipeline.label_names(cfg) == ("ant", "zebra")  # Without preparing.
  info = pipeline.dataset_info(cfg)
  assert info.label_names == ("ant", "zebra") and info.num_classes == 2
  assert info.split_sizes == {"train": 6, "test": 2} and info.image_shape == (8, 8, 3)
  np.testing.assert_array_equal(info.label_indices(["zebra", "ant"]), [1, 0])
  with pytest.raises(UserError, match="valid labels: ant, zebra"):
    info.label_indices(["horse"])
  builder = pipeline.builder_for(cfg)
  assert builder.info.features["label"].names == ["ant", "zebra"]
  # Each record's label is its folder: image i of class j was written with seed 10j + i.
  layout = folder.discover(root, 0.2)
  for entry, record in zip(layout.splits["train"], _read(builder.data_dir, "train")):
    assert record["label"] == entry.label == ("ant", "zebra").index(entry.path.split(os.sep)[0])


def test_train_and_test_folders_are_the_splits(tmp_path):
  _classes(tmp_path / "ds" / "train", names=("a", "b"), n=3)
  _classes(tmp_path / "ds" / "test", names=("a", "b"), n=1)
  info = pipeline.dataset_info(_cfg(tmp_path / "ds", tmp_path / "data"))
  assert info.split_sizes == {"train": 6, "test": 2} and info.label_names == ("a", "b")
  _flat(tmp_path / "flat" / "train", n=3)
  assert pipeline.dataset_info(_cfg(tmp_path / "flat", tmp_path / "data")).split_sizes == {"train": 3}


def test_cyclegan_domains_are_prepared_as_four_splits_and_streamed(tmp_path):
  for split, n in (("trainA", 3), ("trainB", 2), ("testA", 1)):
    _flat(tmp_path / "h2z" / split, n=n)
  layout = folder.discover(tmp_path / "h2z")
  assert layout.kind == "domains" and set(layout.splits) == {"trainA", "trainB", "testA"}
  directory = folder.prepare(tmp_path / "h2z", tmp_path / "data")
  assert {s: v.num_examples for s, v in tfds.builder_from_directory(directory).info.splits.items()} == {
      "trainA": 3, "trainB": 2, "testA": 1}
  data = ml_collections.ConfigDict({"source": "folder", "path": str(tmp_path / "h2z"),
                                    "data_dir": str(tmp_path / "data"), "load_size": 12, "crop_size": 8})
  images = cyclegan_data.domain_images(data, "B", "train")
  assert len(images) == 2 and images[0].dtype == np.uint8 and images[0].shape[-1] == 3


def test_restoration_reads_a_folder(tmp_path):
  root = _flat(tmp_path / "clean", n=6, mode="L")
  config = ml_collections.ConfigDict({"seed": 0, "batch_size": 2, "data": {
      "source": "folder", "path": root, "data_dir": str(tmp_path / "data"), "resolution": 8, "channels": 1}})
  batch = next(restoration_data.train_batches(config, 0))
  assert batch["image"].shape == (2, 8, 8, 1)
  assert restoration_data.test_images(config).shape == (1, 8, 8, 1)


# ------------------------------------------------------------------------ preparation

def test_preparation_is_reused_and_redone_when_the_folder_changes(tmp_path):
  root = _flat(tmp_path / "f", n=4)
  first = folder.prepare(root, tmp_path / "data")
  stamp = os.stat(os.path.join(first, "dataset_info.json")).st_mtime_ns
  assert folder.prepare(root, tmp_path / "data") == first
  assert os.stat(os.path.join(first, "dataset_info.json")).st_mtime_ns == stamp
  _image(os.path.join(root, "new.png"), (9, 9), seed=99)
  second = folder.prepare(root, tmp_path / "data")
  assert second != first and not os.path.exists(first)  # The stale preparation is removed.
  assert sum(v.num_examples for v in tfds.builder_from_directory(second).info.splits.values()) == 5
  _image(os.path.join(root, "new.png"), (10, 9), seed=98)  # Same name, new content.
  assert folder.prepare(root, tmp_path / "data") != second


def test_worker_pool_writes_what_decoding_in_process_writes(tmp_path, monkeypatch):
  root = _classes(tmp_path / "c", names=("x", "y"), n=3)
  inline = folder.prepare(root, tmp_path / "inline", workers=1)
  monkeypatch.setattr(folder, "_POOL_THRESHOLD", 0)
  pooled = folder.prepare(root, tmp_path / "pooled", workers=2)
  for split in ("train", "test"):
    for a, b in zip(_read(inline, split), _read(pooled, split), strict=True):
      np.testing.assert_array_equal(a["image"], b["image"])
      assert a["label"] == b["label"]


def test_unreadable_files_are_skipped_with_one_warning_each_and_a_count(tmp_path):
  root = tmp_path / "f"
  _flat(root, n=3)
  (root / "empty.png").write_bytes(b"")
  good = (root / "img0.png").read_bytes()
  (root / "truncated.png").write_bytes(good[:len(good) // 2])
  (root / "notes.txt").write_text("not an image")
  Image.fromarray(np.ones((4, 4), np.float32)).save(root / "float.tif")  # Mode F: no 8-bit meaning.
  (root / ".hidden.png").write_bytes(b"ignored")
  with pytest.warns(UserWarning) as record:
    directory = folder.prepare(root, tmp_path / "data", test_fraction=0.0)
  messages = [str(w.message) for w in record]
  for name in ("empty.png", "truncated.png", "notes.txt", "float.tif"):
    assert sum(name in m and m.startswith("skipping") for m in messages) == 1, (name, messages)
  assert not any(".hidden" in m for m in messages)
  assert any("skipped 4 unreadable file(s) of 7" in m for m in messages)
  assert len(_read(directory, "train")) == 3


def test_16_bit_images_are_scaled_to_8_bits_not_clipped(tmp_path):
  root = tmp_path / "deep"
  root.mkdir()
  values = np.array([[0, 257, 32896, 65535]], np.uint16)  # -> 0, 1, 128, 255.
  Image.fromarray(values).save(root / "d.png")
  assert Image.open(root / "d.png").mode.startswith("I")
  np.testing.assert_array_equal(folder.load_image(root / "d.png"), [[0, 1, 128, 255]])
  directory = folder.prepare(root, tmp_path / "data", test_fraction=0.0)
  (record,) = _read(directory, "train")
  np.testing.assert_array_equal(record["image"][..., 0], [[0, 1, 128, 255]])
  assert tfds.builder_from_directory(directory).info.features["image"].shape[-1] == 1  # Grey stays grey.


def test_large_images_are_stored_with_their_shorter_side_capped(tmp_path):
  _image(str(tmp_path / "big" / "b.png"), (40, 20))
  directory = folder.prepare(tmp_path / "big", tmp_path / "data", test_fraction=0.0, max_size=10)
  assert _read(directory, "train")[0]["image"].shape == (10, 20, 3)


# ------------------------------------------------------------------------ errors

def _mixed(root):
  _classes(root, names=("a",), n=1)
  _image(str(root / "loose.png"))


def _empty_class(root):
  _classes(root, names=("a",), n=1)
  (root / "b").mkdir()


def _unreadable_class(root):
  _classes(root, names=("a",), n=2)
  (root / "b").mkdir()
  (root / "b" / "x.png").write_bytes(b"")


def _no_readable(root):
  root.mkdir()
  (root / "x.png").write_bytes(b"not a png")


def _one_domain(root):
  _flat(root / "trainA", n=2)


ERRORS = {
    "not a folder": (lambda root: None, "is not a folder"),
    "no readable image": (_no_readable, "no readable image in"),
    "mixed": (_mixed, "mixes class folders"),
    "empty class": (_empty_class, "class folder .*b has no image"),
    "unreadable class": (_unreadable_class, "class folder .*b has no readable image"),
    "one domain": (_one_domain, "has no trainB/"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_folders_are_one_line_user_errors(case, tmp_path):
  make, pattern = ERRORS[case]
  root = tmp_path / "bad"
  make(root)
  with pytest.warns(UserWarning) if case in ("no readable image", "unreadable class") else _nothing():
    with pytest.raises(UserError, match=pattern) as error:
      folder.prepare(root, tmp_path / "data", test_fraction=0.0)
  assert "\n" not in str(error.value)
  assert not os.path.exists(tmp_path / "data" / "folder") or not any(
      folder.is_prepared(os.path.join(tmp_path / "data" / "folder", d))
      for d in os.listdir(tmp_path / "data" / "folder"))  # Nothing half-prepared to reuse.


class _nothing:
  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return False


def test_validate_and_the_batch_and_cyclegan_errors(tmp_path):
  root = _flat(tmp_path / "f", n=5)
  pipeline.validate(_cfg(root, tmp_path / "data"))
  with pytest.raises(UserError, match="is not a folder"):
    pipeline.validate(_cfg(tmp_path / "nope", tmp_path / "data"))
  with pytest.raises(UserError, match="unknown data.resize"):
    pipeline.validate(_cfg(root, tmp_path / "data", resize="stretch"))
  with pytest.raises(UserError, match="fewer than one batch of 8"):
    pipeline.make_dataset(_cfg(root, tmp_path / "data"), "train", batch_size=8, train=True)
  with pytest.raises(UserError, match="not divisible by the 3 processes"):
    pipeline.check_batch_split(8, 3)
  data = ml_collections.ConfigDict({"source": "folder", "path": root, "data_dir": str(tmp_path / "data")})
  with pytest.raises(UserError, match="trainA/ or trainB/"):
    cyclegan_data.domain_images(data, "A", "train")


# ------------------------------------------------------------------------ reading

def test_resize_policies():
  image = np.zeros((10, 20, 1), np.uint8)
  image[:, 5:15] = 200  # A bright centre square.
  assert pipeline.fit_uint8(image, 8, "resize").shape == (8, 8, 1)
  centre = pipeline.fit_uint8(image, 8, "center_crop")
  assert centre.shape == (8, 8, 1) and centre.min() == 200
  crops = [pipeline.fit_uint8(image, 8, "random_crop", np.random.default_rng(s)) for s in range(6)]
  assert all(c.shape == (8, 8, 1) for c in crops)
  assert len({c.tobytes() for c in crops}) > 1  # Positions vary with the generator...
  np.testing.assert_array_equal(crops[0], pipeline.fit_uint8(image, 8, "random_crop", np.random.default_rng(0)))
  np.testing.assert_array_equal(pipeline.fit_uint8(image, 8, "random_crop"), centre)  # ...none: the centre.


def test_training_batches_are_a_function_of_seed_and_step_with_random_crops(tmp_path):
  root = _classes(tmp_path / "c", names=("a", "b"), n=5)
  cfg = _cfg(root, tmp_path / "data", resize="random_crop", channels=1)
  ds = pipeline.make_dataset(cfg, "train", batch_size=4, train=True, seed=0)
  assert ds[0]["image"].shape == (4, 8, 8, 1) and ds[0]["label"].dtype == np.int32
  resumed = next(pipeline.train_batches(cfg, batch_size=4, seed=0, start_step=5))
  np.testing.assert_array_equal(resumed["image"], ds[5]["image"])
  again = pipeline.make_dataset(cfg, "train", batch_size=4, train=True, seed=0)
  np.testing.assert_array_equal(again[3]["image"], ds[3]["image"])
  # Epoch 2 (8 images, 2 batches an epoch) crops anew: no batch repeats epoch 1 exactly.
  epoch1 = {tuple(ds[i]["label"]) + (ds[i]["image"].tobytes(),) for i in range(2)}
  assert not epoch1 & {tuple(ds[i]["label"]) + (ds[i]["image"].tobytes(),) for i in range(2, 4)}
  test = pipeline.load_images("folder", "test", cfg)
  assert test.shape == (2, 8, 8, 1) and test.dtype == np.uint8


# ------------------------------------------------------------------------ training and export

def test_cgan_trains_on_a_folder_samples_by_label_name_and_trains_on_its_own_export(tmp_path):
  from aigc_jax import configlib, inference
  from aigc_jax.data import export
  from aigc_jax.train import loop
  import jax

  def config_for(path):
    config = configlib.load_config("cgan_digits:smoke")
    config.data = ml_collections.ConfigDict({
        "name": "folder", "path": str(path), "data_dir": str(tmp_path / "data"), "resolution": 16,
        "channels": 1, "resize": "center_crop", "test_fraction": 0.2})
    config.model.num_classes = len(pipeline.label_names(config.data))  # What config loading does.
    return config

  # Ten classes: the programs are then those of cgan_digits:smoke, compiled once per suite.
  names = tuple(f"kind{i}" for i in range(10))
  root = _classes(tmp_path / "kinds", names=names, n=2)
  state = loop.train_and_evaluate(config_for(root), str(tmp_path / "run"), progress=False)
  assert int(state.step) == 4
  run = inference.load(str(tmp_path / "run"))
  chosen = inference.sample(run, jax.random.key(0), 2, labels=["kind3"])
  assert chosen.shape == (2, 16, 16, 1) and chosen.dtype == np.uint8
  with pytest.raises(UserError, match="valid labels: kind0"):
    inference.sample(run, jax.random.key(0), 2, labels=["horse"])
  generate = lambda key, n, labels: inference.sample(run, key, n, labels=labels)
  paths = export.export_samples(generate, str(tmp_path / "export"), 13, jax.random.key(1), label_names=names)
  assert len(paths) == 13 and sorted(os.listdir(tmp_path / "export")) == list(names)
  assert len(os.listdir(tmp_path / "export" / "kind0")) == 2 and len(os.listdir(tmp_path / "export" / "kind9")) == 1
  np.testing.assert_array_equal(np.asarray(Image.open(paths[0]))[..., None],
                                generate(jax.random.fold_in(jax.random.fold_in(jax.random.key(1), 0), 0), 2,
                                         ["kind0"])[0])
  again = config_for(tmp_path / "export")
  assert pipeline.dataset_info(again.data).label_names == names
  assert int(loop.train_and_evaluate(again, str(tmp_path / "run2"), progress=False).step) == 4


def test_cvae_trains_on_a_folder(tmp_path):
  from aigc_jax import configlib
  from aigc_jax.train import loop
  names = tuple(f"kind{i}" for i in range(10))  # cvae_digits:smoke's programs: compiled once per suite.
  root = _classes(tmp_path / "kinds", names=names, n=2)
  config = configlib.load_config("cvae_digits:smoke")
  config.data = ml_collections.ConfigDict({
      "name": "folder", "path": root, "data_dir": str(tmp_path / "data"), "resolution": 8, "channels": 1,
      "test_fraction": 0.2})
  config.model.num_classes = len(pipeline.label_names(config.data))
  assert int(loop.train_and_evaluate(config, str(tmp_path / "run"), progress=False).step) == 4


@pytest.mark.parametrize("config_name", ["dcgan_folder:cgan+smoke", "vae_folder:smoke"])
def test_training_decodes_off_the_main_thread_and_a_resume_reads_the_same_batches(config_name, tmp_path,
                                                                                  monkeypatch):
  """Through the family's own `train_batches`, as the loop calls it: every image is
  decoded and resized in one of grain's reader threads, and a stream started at step 4
  (a resume) yields the batches 4, 5 of a stream started at 0."""
  import threading
  from aigc_jax import configlib
  from aigc_jax.train import task as task_lib
  config = configlib.load_config(config_name)
  config.data.path, config.data.data_dir = _classes(tmp_path / "c", names=("a", "b"), n=6), str(tmp_path / "data")
  task, opts = task_lib.parse_config(config)
  fit, threads = pipeline.fit_uint8, []

  def recording_fit(*args, **kwargs):
    threads.append(threading.get_ident())
    return fit(*args, **kwargs)
  monkeypatch.setattr(pipeline, "fit_uint8", recording_fit)
  stream = task.train_batches(opts, 0)
  uninterrupted = [next(stream) for _ in range(6)]
  assert len(threads) >= 6 * opts.run.batch_size and threading.get_ident() not in threads
  resumed = task.train_batches(opts, 4)
  for expected in uninterrupted[4:]:
    got = next(resumed)
    assert set(got) == set(expected) == {"image", "label"}
    for key in expected:
      np.testing.assert_array_equal(got[key], expected[key])


# (config, resolution, stride-2 stages): the depth follows the resolution.
FOLDER_CONFIGS = [("dcgan_folder:cgan+res32+grey", 32, 3), ("dcgan_folder", 64, 4), ("dcgan_folder:res128", 128, 5),
                  ("vae_folder:res28+grey", 28, 2), ("vae_folder:res32", 32, 3), ("vae_folder", 64, 4),
                  ("vae_folder:cvae+res128", 128, 5)]


@pytest.mark.parametrize("name,resolution,stages", FOLDER_CONFIGS)
def test_folder_configs_at_each_resolution_build_models_of_their_depth(name, resolution, stages, tmp_path):
  """Shapes only (jax.eval_shape): nothing is computed or prepared."""
  import jax
  from aigc_jax import configlib
  from aigc_jax.train import gan, task as task_lib, vae
  config = configlib.load_config(name)
  config.data.path = _classes(tmp_path / "c", names=("a", "b", "c"), n=1)
  task, opts = task_lib.parse_config(config)
  assert opts.data.resolution == resolution
  key = jax.random.key(0)
  if config.task == "gan":
    g, d = gan.build_models(opts)
    y = jax.numpy.zeros((1, opts.model.cond_dim)) if opts.model.cond_dim else None
    assert (opts.model.cond_dim == 3) == ("cgan" in name.partition(":")[2])  # The class count comes from the folder.
    variables = jax.eval_shape(lambda: g.init(key, jax.numpy.zeros((1, opts.model.latent_dim)), y, train=False))
    layers = [k for k in variables["params"] if k.startswith("ConvTranspose_")]
    assert len(layers) == stages + 1
    images = jax.eval_shape(lambda v: g.apply(v, jax.numpy.zeros((1, opts.model.latent_dim)), y, train=False),
                            variables)
    assert images.shape == (1, resolution, resolution, opts.data.channels)
    jax.eval_shape(lambda: d.init(key, jax.numpy.zeros(images.shape), y, train=False))
  else:
    assert len(dict(opts.model.architecture)["features"]) == stages
    state = jax.eval_shape(lambda: vae.init_state(opts, key))
    model = vae.build_model(opts)
    cond = jax.numpy.zeros((1, 3)) if opts.model.num_classes else None
    assert (opts.model.num_classes == 3) == ("cvae" in name.partition(":")[2])
    x = jax.numpy.zeros((1, resolution, resolution, opts.data.channels))
    params, _, _ = jax.eval_shape(
        lambda p: model.apply({"params": p}, x, jax.numpy.zeros((1, opts.model.latent_dim)), cond), state.params)
    assert params.shape[:4] == x.shape
