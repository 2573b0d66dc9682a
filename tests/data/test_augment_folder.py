"""`aigc augment` (augment_folder) and the export of generated images as a folder."""

import os

import jax
import numpy as np
import pytest
from PIL import Image

from aigc_jax.data import augment, augment_folder, export, folder
from aigc_jax.errors import UserError


def _folder(root):
  rng = np.random.default_rng(0)
  for cls, mode in (("cats", "RGB"), ("dogs", "L")):
    os.makedirs(root / cls)
    for i in range(2):
      shape = (12, 10, 3) if mode == "RGB" else (12, 10)
      Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / cls / f"{i}.png")
  return root


def _read_all(root):
  return {os.path.relpath(p, root): (root / os.path.relpath(p, root)).read_bytes() for p in folder.list_files(root)}


@pytest.mark.parametrize("op", sorted(augment.OPS))
def test_each_op_changes_the_image_keeps_shape_and_range(op):
  x = jax.random.uniform(jax.random.key(0), (8, 12, 10, 3), minval=-1.0, maxval=1.0)
  out = np.asarray(jax.jit(augment.apply_ops, static_argnums=2)(jax.random.key(1), x, (op,)))
  assert out.shape == x.shape and out.min() >= -1.0 and out.max() <= 1.0
  changed = [not np.allclose(o, xi) for o, xi in zip(out, np.asarray(x))]
  # Flip changes an image with probability 1/2; the others change every one.
  assert sum(changed) >= (2 if op == "flip" else 8)


def test_augment_folder_is_deterministic_keeps_class_folders_and_modes(tmp_path):
  src = _folder(tmp_path / "in")
  (src / "cats" / "broken.png").write_bytes(b"")
  with pytest.warns(UserWarning, match="broken.png"):
    written = augment_folder.augment_folder(src, tmp_path / "a", 3, "flip,color", seed=7)
  assert len(written) == 12
  a = _read_all(tmp_path / "a")
  assert sorted(a) == sorted(f"{c}/{i}_aug{k}.png" for c in ("cats", "dogs") for i in range(2) for k in range(3))
  assert Image.open(tmp_path / "a" / "dogs" / "0_aug0.png").mode == "L"
  assert Image.open(tmp_path / "a" / "cats" / "0_aug0.png").size == (10, 12)
  with pytest.warns(UserWarning):
    augment_folder.augment_folder(src, tmp_path / "b", 3, "flip,color", seed=7)
    augment_folder.augment_folder(src, tmp_path / "c", 3, "flip,color", seed=8)
  assert a == _read_all(tmp_path / "b")  # Same seed, same files.
  assert a != _read_all(tmp_path / "c")
  copies = [np.asarray(Image.open(tmp_path / "a" / "cats" / f"0_aug{k}.png")) for k in range(3)]
  assert not np.array_equal(copies[0], copies[1])
  assert not np.array_equal(copies[0], np.asarray(Image.open(src / "cats" / "0.png")))


def test_augment_folder_errors(tmp_path):
  with pytest.raises(UserError, match="unknown --ops blur"):
    augment_folder.augment_folder(tmp_path, tmp_path / "o", 1, "flip,blur")
  with pytest.raises(UserError, match="--copies"):
    augment_folder.augment_folder(tmp_path, tmp_path / "o", 0, "flip")
  with pytest.raises(UserError, match="not a folder"):
    augment_folder.augment_folder(tmp_path / "nope", tmp_path / "o", 1, "flip")


def test_export_writes_numbered_pngs_flat_or_per_label(tmp_path):
  calls = []

  def generate(key, n, labels):
    calls.append((n, labels))
    value = 0 if labels is None else 100 + int(labels[0][1:])
    return np.full((n, 4, 4, 1), value, np.uint8)

  flat = export.export_samples(generate, tmp_path / "flat", 3, jax.random.key(0))
  assert [os.path.basename(p) for p in flat] == ["000000.png", "000001.png", "000002.png"]
  paths = export.export_samples(generate, tmp_path / "byclass", 5, jax.random.key(0), label_names=("c0", "c1"))
  assert calls[1:] == [(3, ["c0"]), (2, ["c1"])]
  assert len(paths) == 5 and np.asarray(Image.open(tmp_path / "byclass" / "c1" / "000001.png")).max() == 101
  assert folder.discover(tmp_path / "byclass").label_names == ("c0", "c1")
  with pytest.raises(UserError, match="--num"):
    export.export_samples(generate, tmp_path / "x", 0, jax.random.key(0))
