"""The supervised train step of the evaluator classifiers (the shipped digits classifier
and a folder's classifier): augmented images, softmax cross-entropy, one optimizer update.

Images are float [B, H, W, C] in [-1, 1], labels int [B]; the model returns (logits
[B, K], features). Random shifts and small rotations, drawn per step, make the
classifier robust to the small misalignments that generated images have.
"""

import functools

import jax
import optax

from aigc_jax.data import augment


def make_step(model, tx: optax.GradientTransformation, *, max_shift: int, max_degrees: float = 10.0):
  """A jitted step(params, opt_state, images, labels, key) -> (params, opt_state, loss);
  the params and optimizer state passed in are donated."""

  @functools.partial(jax.jit, donate_argnums=(0, 1))
  def step(params, opt_state, x, y, key):
    x = augment.augment(key, x, max_shift=max_shift, max_degrees=max_degrees)

    def loss_fn(p):
      logits, _ = model.apply({"params": p}, x)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss
  return step
