"""Typed, frozen options parsed from a config once, when it is loaded.

A family declares its options as frozen dataclasses whose fields name config keys; a
field whose type is itself such a dataclass reads the config section of the same name
(`model: GANModel` reads `config.model`), unless its metadata says `inline` (it reads
the same level: the run keys `seed`, `num_steps`, ... sit at the top of every config).
`parse(cls, config)` reads every field, checks its type and calls the dataclass's
`check()` for ranges, so a wrong or missing value is one `UserError` naming the key,
raised at load, never deep inside a step. Fields have no defaults: the config files are
the one place where defaults live.

The options are hashable (tuples, not lists), so jitted programs can be cached on them.
"""

import dataclasses
import types
import typing

from aigc_jax.errors import UserError

def inline():
  """A dataclass field read from the same config level as its parent."""
  return dataclasses.field(metadata={"inline": True})


def section():
  """A field that holds the config section it is read from, as a locked ConfigDict.

  For the layers that read a section of their own (the data layer reads `config.data`,
  and checks it once at load itself). It takes no part in equality or hashing.
  """
  return dataclasses.field(metadata={"section": True}, compare=False)


def rest():
  """A field that holds the section's other keys, as a sorted tuple of (key, value) pairs
  (lists as tuples): options whose names depend on another option (a model's own
  keyword arguments); the dataclass's `check()` checks them."""
  return dataclasses.field(metadata={"rest": True})


def parse(cls, config, prefix: str = ""):
  """An instance of the options dataclass `cls` read from `config` (a ConfigDict or dict)."""
  hints = typing.get_type_hints(cls)
  values = {}
  for f in dataclasses.fields(cls):
    hint = hints[f.name]
    if f.metadata.get("section"):
      values[f.name] = _locked_copy(config)
      continue
    if f.metadata.get("rest"):
      named = {g.name for g in dataclasses.fields(cls)}
      values[f.name] = tuple(sorted((k, _freeze(v)) for k, v in config.items() if k not in named))
      continue
    if dataclasses.is_dataclass(hint):
      if f.metadata.get("inline"):
        values[f.name] = parse(hint, config, prefix)
      else:
        values[f.name] = parse(hint, _section(config, f.name, prefix), f"{prefix}{f.name}.")
      continue
    key = prefix + f.name
    if f.name not in config:
      raise UserError(f"config key {key!r} is missing; the shipped configs (configs/*.py) show every key")
    values[f.name] = _convert(config[f.name], hint, key)
  options = cls(**values)
  check = getattr(options, "check", None)
  if check is not None:
    check()
  return options


def _freeze(value):
  return tuple(_freeze(v) for v in value) if isinstance(value, (list, tuple)) else value


def _locked_copy(config):
  import ml_collections
  copy = ml_collections.ConfigDict(config.to_dict() if hasattr(config, "to_dict") else dict(config))
  copy.lock()
  return copy


def _section(config, name, prefix):
  if name not in config or not hasattr(config[name], "keys"):
    raise UserError(f"config section {prefix + name!r} is missing")
  return config[name]


def _convert(value, hint, key):
  """`value` as type `hint` (int, float, str, bool, tuple[...], X | None), or a UserError."""
  origin = typing.get_origin(hint)
  if origin in (typing.Union, types.UnionType):
    args = typing.get_args(hint)
    if value is None and type(None) in args:
      return None
    (inner,) = [a for a in args if a is not type(None)]
    return _convert(value, inner, key)
  if origin is tuple:
    if not isinstance(value, (tuple, list)):
      raise UserError(f"config key {key!r} takes a tuple, got {value!r}")
    args = typing.get_args(hint)
    inner = args[0] if args else None
    return tuple(v if inner is None else _convert(v, inner, key) for v in value)
  if hint is float and isinstance(value, int) and not isinstance(value, bool):
    return float(value)
  if hint in (int, float) and isinstance(value, bool) or not isinstance(value, hint):
    raise UserError(f"config key {key!r} takes a {hint.__name__}, got {value!r} ({type(value).__name__})")
  return value


def require(condition: bool, message: str):
  """Raises a UserError with `message` unless `condition`: the range checks of `check()`."""
  if not condition:
    raise UserError(message)


def one_of(value, choices, key: str):
  """Checks that `value` is one of `choices` (a collection of names)."""
  require(value in choices, f"unknown {key} {value!r}; choose one of {', '.join(choices)}")
