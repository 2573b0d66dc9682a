"""The family kit's shared pieces: typed options parsed from a config
(`aigc_jax.options`), the padded chunked apply (`train.chunked`) and the named key
streams (`train.keys`)."""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from aigc_jax import options
from aigc_jax.errors import UserError
from aigc_jax.train import chunked, keys


@dataclasses.dataclass(frozen=True)
class _Inner:
  size: int
  sizes: tuple[int, ...]

  def check(self):
    options.require(self.size >= 1, f"inner.size must be at least 1, got {self.size}")


@dataclasses.dataclass(frozen=True)
class _Outer:
  seed: int
  lr: float
  name: str
  scale: float | None
  inner: _Inner


def _config(**changes):
  config = ml_collections.ConfigDict({"seed": 0, "lr": 0.5, "name": "a", "scale": None,
                                      "inner": {"size": 2, "sizes": (1, 2)}})
  for key, value in changes.items():
    *path, leaf = key.split(".")
    node = config
    for part in path:
      node = node[part]
    if value is _DELETE:
      del node[leaf]
    else:
      node[leaf] = value
  return config


_DELETE = object()


def test_parse_reads_typed_frozen_hashable_options():
  opts = options.parse(_Outer, _config())
  assert opts == _Outer(seed=0, lr=0.5, name="a", scale=None, inner=_Inner(size=2, sizes=(1, 2)))
  hash(opts)  # Hashable: jitted programs are cached on options.
  with pytest.raises(dataclasses.FrozenInstanceError):
    opts.seed = 1


def test_parse_converts_int_to_float_and_lists_to_tuples():
  config = ml_collections.ConfigDict({"seed": 0, "lr": 3, "name": "a", "scale": 2,
                                      "inner": {"size": 2, "sizes": [4, 5]}})
  opts = options.parse(_Outer, config)
  assert opts.lr == 3.0 and type(opts.lr) is float
  assert opts.scale == 2.0 and type(opts.scale) is float
  assert opts.inner.sizes == (4, 5) and type(opts.inner.sizes) is tuple


def test_a_missing_key_is_a_user_error_naming_it():
  with pytest.raises(UserError, match=r"config key 'inner\.size' is missing"):
    options.parse(_Outer, _config(**{"inner.size": _DELETE}))
  with pytest.raises(UserError, match=r"config key 'seed' is missing"):
    options.parse(_Outer, _config(seed=_DELETE))
  with pytest.raises(UserError, match=r"config section 'inner' is missing"):
    options.parse(_Outer, _config(inner=_DELETE))


@pytest.mark.parametrize("key,value,message", [
    ("lr", "fast", r"config key 'lr' takes a float, got 'fast' \(str\)"),
    ("seed", 1.5, r"config key 'seed' takes a int, got 1\.5 \(float\)"),
    ("seed", True, r"config key 'seed' takes a int, got True \(bool\)"),
    ("name", 3, r"config key 'name' takes a str"),
    ("inner.sizes", 3, r"config key 'inner\.sizes' takes a tuple"),
    ("inner.sizes", (1, "x"), r"config key 'inner\.sizes' takes a int, got 'x'"),
])
def test_a_value_of_the_wrong_type_is_a_user_error(key, value, message):
  config = _config()
  node, leaf = (config.inner, key.split(".")[1]) if key.startswith("inner.") else (config, key)
  with node.ignore_type():
    node[leaf] = value
  with pytest.raises(UserError, match=message):
    options.parse(_Outer, config)


def test_check_refuses_values_out_of_range():
  with pytest.raises(UserError, match="inner.size must be at least 1, got 0"):
    options.parse(_Outer, _config(**{"inner.size": 0}))
  with pytest.raises(UserError, match="unknown colour 'red'; choose one of green, blue"):
    options.one_of("red", ("green", "blue"), "colour")


def test_chunked_apply_equals_the_whole_call_with_one_compilation():
  traces = []

  @jax.jit
  def fn(x, y):
    traces.append(x.shape)  # Runs only when jax traces (compiles) fn.
    return {"sum": x * 2.0 + y[:, None], "norm": jnp.sum(x * x, axis=1)}

  rng = np.random.default_rng(0)
  x = rng.normal(size=(10, 3)).astype(np.float32)  # 10 is not a multiple of the chunk, 4.
  y = rng.normal(size=(10,)).astype(np.float32)
  out = chunked.chunked_apply(fn, x, y, chunk=4)
  assert traces == [(4, 3)]  # Three chunks, the last padded: one shape, one trace.
  np.testing.assert_allclose(out["sum"], x * 2.0 + y[:, None], rtol=1e-6)
  np.testing.assert_allclose(out["norm"], np.sum(x * x, axis=1), rtol=1e-6)
  assert out["sum"].shape == (10, 3) and out["norm"].shape == (10,)
  # Another N (a chunk larger than N shrinks to N, so 3 is a new shape; 7 reuses 4).
  np.testing.assert_allclose(chunked.chunked_apply(fn, x[:7], y[:7], chunk=4)["norm"],
                             np.sum(x[:7] ** 2, axis=1), rtol=1e-6)
  assert traces == [(4, 3)]


def test_chunked_apply_passes_none_and_pad_to_repeats_the_last_example():
  out = chunked.chunked_apply(lambda a, b: a + (0 if b is None else 1), np.arange(5), None, chunk=2)
  np.testing.assert_array_equal(out, np.arange(5))
  np.testing.assert_array_equal(chunked.pad_to(np.array([1, 2, 3]), 5), [1, 2, 3, 3, 3])


def test_key_streams_are_distinct_and_stable():
  numbers = list(keys.STREAMS.values())
  assert len(set(numbers)) == len(numbers)
  assert {"init", "step", "grid", "bounds", "eval"} <= set(keys.STREAMS)
  data = {name: np.asarray(jax.random.key_data(keys.stream_key(7, name))) for name in keys.STREAMS}
  assert len({d.tobytes() for d in data.values()}) == len(data)
  # The numbers are part of a seed's reproducibility: "init" is fold_in(key(seed), 0), as
  # the trainer always derived its initial parameters.
  np.testing.assert_array_equal(data["init"], jax.random.key_data(jax.random.fold_in(jax.random.key(7), 0)))
  step_key = jax.random.fold_in(keys.stream_key(7, "step"), 3)
  sub = keys.step_substream(step_key, "options")
  assert not np.array_equal(jax.random.key_data(sub), jax.random.key_data(step_key))
  assert len(set(keys.STEP_SUBSTREAMS.values())) == len(keys.STEP_SUBSTREAMS)
