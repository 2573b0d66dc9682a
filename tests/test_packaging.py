"""The wheel holds every package: pyproject's explicit package list names each folder of
aigc_jax that has an __init__.py (a missing one installs in editable mode and fails in a
plain `pip install .`)."""

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject():
  with open(ROOT / "pyproject.toml", "rb") as f:
    listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
  found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "aigc_jax").rglob("__init__.py")}
  assert found | {"aigc_jax.configs"} == listed
