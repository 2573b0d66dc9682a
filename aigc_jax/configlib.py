"""Loading `get_config()` files and applying `--config.KEY=VALUE` overrides.

A config is named by a path to a Python file (`configs/dcgan_digits.py`) or by the name
of a config that ships with the package (`dcgan_digits`, found in `aigc_jax.configs`,
which is the repository's `configs/` folder). A file may append `:ARG` to pass an
argument to `get_config(ARG)`, as ml_collections' config flags do.

Overrides are typed: ml_collections refuses a value whose type differs from the
default's, and an unknown key is an error, both reported as one-line `UserError`s.
"""

import ast
import importlib
import importlib.util
import inspect
import json
import os

import ml_collections

from aigc_jax.errors import UserError

DEFAULT_CONFIG = "dcgan_digits"


def load_config(spec: str | None = None) -> ml_collections.ConfigDict:
  spec = spec or DEFAULT_CONFIG
  path, _, arg = spec.partition(":")
  if os.path.exists(path):
    module = _load_file(path)
  elif path.endswith(".py") or os.sep in path:
    raise UserError(f"config file not found: {path}")
  else:
    try:
      module = importlib.import_module(f"aigc_jax.configs.{path}")
    except ModuleNotFoundError as e:
      raise UserError(f"unknown config {path!r}: neither a file nor a config shipped in configs/ "
                      f"({', '.join(shipped_configs())})") from e
  if not hasattr(module, "get_config"):
    raise UserError(f"config {spec!r} defines no get_config()")
  if arg and not inspect.signature(module.get_config).parameters:
    raise UserError(f"unknown variant {arg!r}: config {path!r} has no variants")
  config = module.get_config(arg) if arg else module.get_config()
  if not isinstance(config, ml_collections.ConfigDict):
    raise UserError(f"get_config() in {spec!r} must return an ml_collections.ConfigDict")
  return config


def _load_file(path: str):
  name = "aigc_user_config_" + os.path.splitext(os.path.basename(path))[0]
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
  except SyntaxError as e:
    raise UserError(f"config file {path} has a syntax error on line {e.lineno}: {e.msg}") from e
  return module


def shipped_configs() -> list[str]:
  import aigc_jax.configs as pkg
  folder = os.path.dirname(pkg.__file__)
  return sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".py") and not f.startswith("_")
                and f != "common.py")


def shipped_variants() -> dict[str, list[str]]:
  """Each shipped config's name -> the names of its variants (`VARIANTS`), for help texts."""
  out = {}
  for name in shipped_configs():
    module = importlib.import_module(f"aigc_jax.configs.{name}")
    out[name] = list(getattr(module, "VARIANTS", {}))
  return out


def parse_value(text: str):
  """'3' -> 3, '1e-4' -> 0.0001, 'True' -> True, '(1, 2)' -> (1, 2), 'abc' -> 'abc'."""
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    low = text.lower()
    if low in ("true", "false"):
      return low == "true"
    return text


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str]) -> ml_collections.ConfigDict:
  """Applies `["--config.a.b=VALUE", ...]` (also `--config.a.b VALUE`) to `config`."""
  items = list(overrides)
  i = 0
  while i < len(items):
    arg = items[i]
    if not arg.startswith("--config."):
      raise UserError(f"unrecognized argument {arg!r}; config overrides look like --config.KEY=VALUE")
    key, eq, value = arg[len("--config."):].partition("=")
    if not eq:
      if i + 1 >= len(items):
        raise UserError(f"--config.{key} needs a value: --config.{key}=VALUE")
      value = items[i + 1]
      i += 1
    set_value(config, key, parse_value(value))
    i += 1
  return config


def set_value(config, dotted_key: str, value):
  *parents, leaf = dotted_key.split(".")
  node = config
  for j, part in enumerate(parents):
    if part not in node or not isinstance(node[part], ml_collections.ConfigDict):
      raise UserError(f"unknown config key {'.'.join(parents[:j + 1])!r}")
    node = node[part]
  if leaf not in node:
    raise UserError(f"unknown config key {dotted_key!r}; keys here: {', '.join(sorted(node.keys()))}")
  old = node[leaf]
  if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
    value = float(value)
  if isinstance(old, tuple) and isinstance(value, list):
    value = tuple(value)
  try:
    node[leaf] = value
  except (TypeError, ValueError) as e:
    raise UserError(f"config key {dotted_key!r} takes a {type(old).__name__}, "
                    f"got {value!r} ({type(value).__name__})") from e


# Keys added to a family's config after runs were saved without them, with the value
# those runs were trained with. `config_from_workdir` fills them in (where the key's
# section exists), so an old run loads, resumes and compares as what it was.
ADDED_KEYS = {"edm.objective": "edm"}


def config_from_workdir(workdir: str) -> ml_collections.ConfigDict:
  """The config a run was trained with (its `config.json`, plus `ADDED_KEYS` it predates)."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise UserError(f"{workdir!r} is not a training workdir (no config.json); train first with "
                    f"`aigc train --workdir {workdir}`")
  with open(path) as f:
    config = _to_config(json.load(f))
  for key, value in ADDED_KEYS.items():
    *parents, leaf = key.split(".")
    node = config
    for part in parents:
      node = node.get(part) if isinstance(node, ml_collections.ConfigDict) else None
    if isinstance(node, ml_collections.ConfigDict) and leaf not in node:
      node[leaf] = value
  return config


def _to_config(obj):
  if isinstance(obj, dict):
    return ml_collections.ConfigDict({k: _to_config(v) for k, v in obj.items()})
  if isinstance(obj, list):
    return tuple(_to_config(v) for v in obj)
  return obj
