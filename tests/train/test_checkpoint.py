import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax.errors import UserError
from aigc_jax.train.checkpoint import Checkpointer


def _saved(tmp_path):
  ckpt = Checkpointer(str(tmp_path / "checkpoints"))
  ckpt.save(3, {"step": jnp.int32(3), "params": {"w": jnp.arange(4.0)}})
  ckpt.wait()
  return ckpt


def test_restore_round_trips(tmp_path):
  ckpt = _saved(tmp_path)
  state = ckpt.restore({"step": jnp.int32(0), "params": {"w": jnp.zeros(4)}})
  np.testing.assert_array_equal(state["params"]["w"], np.arange(4.0))
  assert int(state["step"]) == 3
  ckpt.close()


@pytest.mark.parametrize("target", [
    # A state that gained a field since the checkpoint was written (e.g. g_ema_params).
    {"step": jnp.int32(0), "params": {"w": jnp.zeros(4)}, "ema": {"w": jnp.zeros(4)}},
    # A model whose shapes changed.
    {"step": jnp.int32(0), "params": {"w": jnp.zeros(5)}},
])
def test_a_checkpoint_that_does_not_fit_is_a_user_error(tmp_path, target):
  ckpt = _saved(tmp_path)
  with pytest.raises(UserError, match=r"checkpoint at step 3 in .* does not fit"):
    ckpt.restore(target)
  # Nothing on disk was touched: the original state still restores.
  np.testing.assert_array_equal(
      ckpt.restore({"step": jnp.int32(0), "params": {"w": jnp.zeros(4)}})["params"]["w"], np.arange(4.0))
  ckpt.close()
