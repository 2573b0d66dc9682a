"""Image-text losses against numpy references, and the matching-aware D loss through the kit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax import losses as gan_losses
from aigc_jax.text import losses
from aigc_jax.train import adversarial


def _numpy_contrastive(image, text, log_scale):
  image = image / np.linalg.norm(image, axis=1, keepdims=True)
  text = text / np.linalg.norm(text, axis=1, keepdims=True)
  logits = np.exp(log_scale) * image @ text.T
  def xent_rows(m):
    m = m - m.max(axis=1, keepdims=True)
    log_softmax = m - np.log(np.exp(m).sum(axis=1, keepdims=True))
    return -np.diag(log_softmax)
  return 0.5 * (xent_rows(logits) + xent_rows(logits.T))


def test_contrastive_loss_matches_numpy():
  rng = np.random.default_rng(0)
  image, text = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
  got = jax.jit(losses.contrastive_loss)(jnp.asarray(image, jnp.float32), jnp.asarray(text, jnp.float32),
                                         jnp.float32(np.log(1 / 0.07)))
  np.testing.assert_allclose(got, _numpy_contrastive(image, text, np.log(1 / 0.07)), rtol=1e-4, atol=1e-5)


def test_contrastive_loss_is_low_for_matching_pairs():
  eye = jnp.eye(4)
  assert float(jnp.mean(losses.contrastive_loss(eye, eye, jnp.log(100.0)))) < 1e-3
  assert float(jnp.mean(losses.contrastive_loss(eye, eye[::-1], jnp.log(100.0)))) > 10


@pytest.mark.parametrize("name", ["hinge", "non_saturating"])
def test_matching_aware_d_loss_is_gan_cls(name):
  real, fake, mis = jnp.array([0.5, -2.0]), jnp.array([0.3, 1.5]), jnp.array([-0.2, 2.5])
  if name == "hinge":
    want = np.maximum(0, 1 - real) + 0.5 * (np.maximum(0, 1 + fake) + np.maximum(0, 1 + mis))
  else:
    sp = lambda x: np.log1p(np.exp(x))
    want = sp(-real) + 0.5 * (sp(fake) + sp(mis))
  np.testing.assert_allclose(losses.matching_aware_d_loss(name, real, fake, mis), want, rtol=1e-6)


def test_the_kit_with_pairs_of_fakes_gives_the_matching_aware_loss():
  """text2img's critic scores real images [B, 1] and (generated, real) pairs [B, 2]: the
  kit's discriminator loss is then GAN-CLS's, for the same logits."""
  rng = np.random.default_rng(1)
  real, fake = jnp.asarray(rng.normal(size=(3, 2, 2, 1)), jnp.float32), jnp.asarray(rng.normal(size=(3, 2, 2, 1)),
                                                                                    jnp.float32)
  pairs = jnp.stack([fake, real], axis=1)
  w = {"w": jnp.float32(1.7)}
  other = jnp.array([0.4, -1.0, 0.2])  # A caption score that differs between the two sides.

  def apply(params, collections, x):
    if x.ndim == 4:
      return (params["w"] * jnp.sum(x, axis=(1, 2, 3)))[:, None], collections
    scores = params["w"] * jnp.sum(x, axis=(2, 3, 4))
    return scores + jnp.stack([jnp.zeros(3), other], axis=1), collections
  for name in ("hinge", "non_saturating", "least_squares"):
    opts = adversarial.AdversarialOptions(loss=name, n_critic=1, gp_weight=0.0, r1_gamma=0.0, ema_decay=0.0)
    critic = adversarial.Critic(apply, __import__("optax").sgd(0.0))
    d = adversarial.DState(w, {}, critic.tx.init(w))
    _, metrics = adversarial.discriminator_update(critic, opts, d, real, pairs, jax.random.key(0))
    r = apply(w, {}, real)[0][:, 0]
    f = apply(w, {}, pairs)[0]
    want = jnp.mean(losses.matching_aware_d_loss(name, r, f[:, 0], f[:, 1]))
    np.testing.assert_allclose(metrics["d_loss"], want, rtol=1e-6)
    assert name in gan_losses.LOSSES


def test_r_precision_perfect_and_chance():
  rng = np.random.default_rng(0)
  emb = rng.normal(size=(200, 32))
  groups = np.arange(200)
  assert losses.r_precision(emb, emb, groups) == 1.0
  chance = losses.r_precision(emb, rng.normal(size=(200, 32)), groups)
  assert chance < 0.1
  # A wrong caption that says the same thing (same group) is never a candidate.
  same = np.repeat(np.arange(100), 2)
  assert losses.r_precision(emb, emb, same) == 1.0
