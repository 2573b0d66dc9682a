"""Every shipped config loads, has the keys `aigc train` needs, and rejects an unknown
variant with a UserError (a one-line message at the command line, not a traceback)."""

import os

import pytest

from aigc_jax import configlib
from aigc_jax.errors import UserError

_CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "configs")
NAMES = sorted(f[:-3] for f in os.listdir(_CONFIGS) if f.endswith(".py") and f not in ("__init__.py", "common.py"))


@pytest.mark.parametrize("name", NAMES)
def test_config_loads_and_rejects_unknown_variants(name):
  config = configlib.load_config(name)
  for key in ("task", "seed", "num_steps", "batch_size", "log_every", "sample_every", "checkpoint_every",
              "compute_dtype", "data"):
    assert key in config, (name, key)
  with pytest.raises(UserError, match="unknown variant 'no_such_variant'"):
    configlib.load_config(f"{name}:no_such_variant")
