"""VAE training and evaluation: the state, the pure train step, sampling, reconstruction,
interpolation, and the likelihood bounds on a test split.

The objective of one step is the beta-weighted negative ELBO, averaged over the batch:

  loss = mean_b[ -log p(x_b | z_b) + beta * KL(q(z | x_b) || N(0, I)) ],  z_b ~ q(z | x_b)

with one reparameterised sample per image and the KL in closed form. Logged metrics are
`loss`, `nelbo` (the same with beta = 1: the true bound), `recon` (-log p(x | z)) and
`kl`, all in nats per image under the config's pixel model (`aigc_jax.vae_losses`).
With `compute_dtype` "bfloat16" the networks compute in bf16 while the parameters, the
optimizer state and the bound's terms stay float32 (`aigc_jax.train.precision`).

`evaluate` reports, on the test split, the negative ELBO and the importance-weighted
bound (IWAE, Burda et al., 2016) with `k` posterior samples per image, both in nats per
image of the data as the pipeline delivers it (the stored uint8 values after resizing to
`config.data.resolution`, or their 0/1 binarization for Bernoulli runs), plus bits per
dimension; on `digits` also `digits_is` / `digits_fid` of prior samples.

Displayed images (grids, `aigc sample`, reconstructions) are the decoder's *mean* for a
latent, not a draw from the pixel distribution: per-pixel noise would only add grain.
"""

import functools
import json
import math
from typing import Callable, NamedTuple

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aigc_jax import vae_losses
from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.models import vae as vae_models
from aigc_jax.train import precision
from aigc_jax.train.task import Task

# Key streams derived from config.seed with fold_in (the loop uses 1 for its steps).
_INIT_STREAM, _GRID_STREAM, _EVAL_STREAM = 0, 2, 3


@flax.struct.dataclass
class VAEState:
  step: jax.Array
  params: dict
  opt_state: optax.OptState


# ------------------------------------------------------------------------ building

def build_model(config) -> vae_models.VAE:
  """The Flax module named by `config.model.name`, sized for `config.data`."""
  m = config.model
  if m.name not in vae_models.MODELS:
    raise UserError(f"unknown VAE model {m.name!r}; choose one of {', '.join(vae_models.MODELS)}")
  options = {k: v for k, v in m.items() if k not in ("name", "num_classes")}
  return vae_models.MODELS[m.name](
      resolution=config.data.resolution, channels=config.data.channels,
      num_params=build_likelihood(config).num_params, dtype=precision.compute_dtype(config), **options)


def build_likelihood(config) -> vae_losses.Likelihood:
  return vae_losses.get_likelihood(config.likelihood)


def build_optimizer(config):
  o = config.optimizer
  adam = optax.adam(o.lr, b1=o.b1, b2=o.b2)
  return optax.chain(optax.clip_by_global_norm(o.grad_clip), adam) if o.get("grad_clip") else adam


def num_classes(config) -> int:
  """0 for an unconditional VAE, else the number of label classes it is conditioned on."""
  return int(config.model.get("num_classes", 0) or 0)


def condition(config, labels):
  """int labels [B] -> one-hot float32 [B, K] for a conditional VAE; None otherwise."""
  k = num_classes(config)
  return None if k == 0 or labels is None else jax.nn.one_hot(labels, k, dtype=jnp.float32)


def init_state(config, key) -> VAEState:
  model = build_model(config)
  r, c, d, k = config.data.resolution, config.data.channels, config.model.latent_dim, num_classes(config)
  cond = jnp.zeros((1, k)) if k else None
  params = model.init(jax.random.fold_in(key, _INIT_STREAM), jnp.zeros((1, r, r, c)),
                      jnp.zeros((1, d)), cond)["params"]
  return VAEState(step=jnp.zeros((), jnp.int32), params=params, opt_state=build_optimizer(config).init(params))


# ------------------------------------------------------------------------ bounds

def elbo_terms(model, likelihood, params, x, cond, key):
  """One-sample ELBO terms of a batch: (recon [B], kl [B]) in nats.

  recon = -log p(x | z) with z ~ q(z | x) reparameterised from `key`; kl is exact.
  x is float [B, R, R, C] in [-1, 1] as the pipeline gives it.
  """
  inputs, targets = likelihood.prepare(x)
  mean, logvar = model.apply({"params": params}, inputs, cond, method="encode")
  eps = jax.random.normal(key, mean.shape, mean.dtype)
  pixel_params = model.apply({"params": params}, vae_losses.reparameterize(eps, mean, logvar), cond,
                             method="decode")
  return -likelihood.log_prob(pixel_params, targets), vae_losses.gaussian_kl(mean, logvar)


def iwae_log_likelihood(model, likelihood, params, x, cond, key, num_samples: int, chunk: int = 16):
  """The K-sample importance-weighted lower bound on log p(x): float [B] nats.

  The K = `num_samples` latents per image are decoded `chunk` at a time (sequentially,
  with `lax.map`), so memory grows with chunk * B images, not K * B. Only the log
  weights [K, B] are kept. Chunks past K are drawn and discarded.
  """
  inputs, targets = likelihood.prepare(x)
  mean, logvar = model.apply({"params": params}, inputs, cond, method="encode")
  b = x.shape[0]
  chunk = max(1, min(chunk, num_samples))
  num_chunks = -(-num_samples // chunk)

  def tile(a):
    return None if a is None else jnp.broadcast_to(a[None], (chunk, *a.shape)).reshape(chunk * b, *a.shape[1:])

  def log_weights(i):
    eps = jax.random.normal(jax.random.fold_in(key, i), (chunk, *mean.shape), mean.dtype)
    z = vae_losses.reparameterize(eps, mean, logvar)  # [chunk, B, D]
    pixel_params = model.apply({"params": params}, z.reshape(chunk * b, -1), tile(cond), method="decode")
    log_px = likelihood.log_prob(pixel_params, tile(targets)).reshape(chunk, b)
    log_pz = vae_losses.gaussian_log_density(z)
    log_qz = vae_losses.gaussian_log_density(z, mean, logvar)
    return log_px + log_pz - log_qz

  weights = jax.lax.map(log_weights, jnp.arange(num_chunks)).reshape(num_chunks * chunk, b)
  return vae_losses.iwae_log_likelihood(weights[:num_samples])


# ------------------------------------------------------------------------ training

def make_train_step(config):
  """Returns `train_step(state, batch, key) -> (state, metrics)`, pure and jit-able."""
  model, likelihood, tx = build_model(config), build_likelihood(config), build_optimizer(config)
  beta = float(config.get("beta", 1.0))

  def train_step(state: VAEState, batch, key):
    cond = condition(config, batch.get("label"))

    def loss_fn(params):
      recon, kl = elbo_terms(model, likelihood, params, batch["image"], cond, key)
      return jnp.mean(vae_losses.negative_elbo(-recon, kl, beta)), (recon, kl)
    (loss, (recon, kl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    new_state = state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                              opt_state=opt_state)
    metrics = {"loss": loss, "nelbo": jnp.mean(recon + kl), "recon": jnp.mean(recon), "kl": jnp.mean(kl)}
    return new_state, metrics
  return train_step


def train_batches(config, start_step: int):
  if num_classes(config) and not pipeline.dataset_info(config.data).label_names:
    raise UserError(f"a conditional VAE needs labels, and dataset {config.data.name!r} has none; "
                    f"set --config.model.num_classes=0")
  return pipeline.train_batches(config.data, batch_size=config.batch_size, seed=config.seed,
                                start_step=start_step)


# ------------------------------------------------------------------------ programs

class _Programs(NamedTuple):
  """The jitted functions of one config, compiled once and reused by grids and eval."""
  decode_mean: Callable     # (params, z, labels) -> float [N, R, R, C] in [-1, 1]
  reconstruct: Callable     # (params, x, labels) -> float [N, R, R, C] in [-1, 1]
  elbo: Callable            # (params, x, labels, key) -> (recon [B], kl [B])
  iwae: Callable            # (params, x, labels, key, num_samples static) -> log p bound [B]


def programs(config) -> _Programs:
  """The jitted programs for `config`'s model and pixel model.

  Cached on what they depend on (not on the ConfigDict, which is mutable and unhashable):
  the loop calls `sample_grid` every `sample_every` steps, and fresh closures would be
  fresh jit functions, compiled again each time.
  """
  return _programs_for(_model_key(config))


def _model_key(config) -> str:
  """What the programs depend on, as a hashable string."""
  parts = {"model": config.model.to_dict(), "likelihood": config.likelihood.to_dict(),
           "resolution": config.data.resolution, "channels": config.data.channels,
           "compute_dtype": config.get("compute_dtype", "float32"),
           "iwae_chunk": config.get("eval", {}).get("iwae_chunk", 16)}
  return json.dumps(parts, sort_keys=True, default=str)


@functools.lru_cache(maxsize=8)
def _programs_for(key: str) -> _Programs:
  import ml_collections
  parts = json.loads(key)
  config = ml_collections.ConfigDict({
      "model": parts["model"], "likelihood": parts["likelihood"], "compute_dtype": parts["compute_dtype"],
      "data": {"resolution": parts["resolution"], "channels": parts["channels"]}})
  model, likelihood = build_model(config), build_likelihood(config)
  cond = functools.partial(condition, config)

  @jax.jit
  def decode_mean(params, z, labels):
    return likelihood.mean_image(model.apply({"params": params}, z, cond(labels), method="decode"))

  @jax.jit
  def reconstruct(params, x, labels):
    inputs, _ = likelihood.prepare(x)
    mean, _ = model.apply({"params": params}, inputs, cond(labels), method="encode")
    return decode_mean(params, mean, labels)

  @jax.jit
  def elbo(params, x, labels, key):
    return elbo_terms(model, likelihood, params, x, cond(labels), key)

  @functools.partial(jax.jit, static_argnums=(4,))
  def iwae(params, x, labels, key, num_samples):
    return iwae_log_likelihood(model, likelihood, params, x, cond(labels), key, num_samples,
                               chunk=parts["iwae_chunk"])
  return _Programs(decode_mean, reconstruct, elbo, iwae)


def _chunked(fn, n: int, chunk: int, *arrays):
  """Runs fn over the first axis of `arrays` in chunks of `chunk`, padding the last one so
  that every call has the same shape (one compilation); returns numpy of length n."""
  outs = []
  for i in range(0, n, chunk):
    parts = [None if a is None else _pad(a[i:i + chunk], chunk) for a in arrays]
    outs.append(np.asarray(fn(*parts))[:min(chunk, n - i)])
  return np.concatenate(outs)


def _pad(a, size):
  a = np.asarray(a)
  if len(a) == size:
    return a
  return np.concatenate([a, np.repeat(a[-1:], size - len(a), axis=0)])


# ------------------------------------------------------------------------ generation

def resolve_labels(config, labels, num: int):
  """Label names (strings) -> int32 [num] class ids, cycling the list; None if unconditional.

  With no labels, a conditional VAE cycles through all classes (0, 1, ..., K-1, 0, ...).
  """
  k = num_classes(config)
  if k == 0:
    if labels:
      raise UserError("this run's VAE is unconditional; --labels needs a conditional VAE "
                      "(train one with configs/cvae_digits.py)")
    return None
  if not labels:
    return np.arange(num, dtype=np.int32) % k
  return np.resize(pipeline.dataset_info(config.data).label_indices(labels), num)


def decode_latents(config, state: VAEState, z, labels=None) -> np.ndarray:
  """Latents float [N, latent_dim] (+ class ids [N]) -> uint8 decoder means [N, R, R, C]."""
  fn = functools.partial(programs(config).decode_mean, state.params)
  return pipeline.to_uint8(_chunked(fn, len(z), 256, np.asarray(z), labels))


def generate(config, state, key, num: int, **options) -> np.ndarray:
  """uint8 [num, R, R, C]: decoder means of prior samples z ~ N(0, I).

  `labels` (a list of label names) picks the classes of a conditional VAE, cycled over
  the `num` samples; `attributes` is not supported by VAEs.
  """
  if options.get("attributes"):
    raise UserError("VAEs are not conditioned on attributes; use --labels with a conditional VAE")
  ids = resolve_labels(config, options.get("labels"), num)
  z = jax.random.normal(key, (num, config.model.latent_dim))
  return decode_latents(config, state, z, ids)


def reconstruct(config, state, images_uint8: np.ndarray, labels=None) -> np.ndarray:
  """uint8 [N, R, R, C] at the model's size -> uint8 reconstructions [N, R, R, C].

  The reconstruction decodes the posterior mean, so it is deterministic. `labels`
  (class ids [N]) are needed for a conditional VAE.
  """
  if num_classes(config) and labels is None:
    raise UserError("this run's VAE is conditional: give the inputs' labels (--labels)")
  x = pipeline.to_model_range(np.asarray(images_uint8))
  fn = functools.partial(programs(config).reconstruct, state.params)
  return pipeline.to_uint8(_chunked(fn, len(x), 256, x, labels))


def slerp(z0, z1, t):
  """Spherical interpolation between latents [N, D] at fractions t [T] -> [N, T, D].

  Under a N(0, I) prior most mass lies near a sphere; spherical paths stay near it, where
  straight lines pass through the rarely seen centre (White, 2016).
  """
  z0, z1, t = jnp.asarray(z0), jnp.asarray(z1), jnp.asarray(t)[None, :, None]
  unit = lambda v: v / jnp.linalg.norm(v, axis=-1, keepdims=True)
  omega = jnp.arccos(jnp.clip(jnp.sum(unit(z0) * unit(z1), axis=-1), -1.0, 1.0))[:, None, None]
  sin = jnp.sin(omega)
  safe = sin > 1e-6
  w0 = jnp.where(safe, jnp.sin((1.0 - t) * omega) / jnp.where(safe, sin, 1.0), 1.0 - t)
  w1 = jnp.where(safe, jnp.sin(t * omega) / jnp.where(safe, sin, 1.0), t)
  return w0 * z0[:, None] + w1 * z1[:, None]


def interpolate(config, state, key, rows: int, steps: int, labels=None) -> np.ndarray:
  """uint8 [rows * steps, R, R, C]: each row walks (slerp) between two prior samples.

  `labels` (names) fix each row's class for a conditional VAE, cycled over rows.
  """
  ids = resolve_labels(config, labels, rows)
  k0, k1 = jax.random.split(key)
  d = config.model.latent_dim
  path = slerp(jax.random.normal(k0, (rows, d)), jax.random.normal(k1, (rows, d)), jnp.linspace(0.0, 1.0, steps))
  return decode_latents(config, state, np.asarray(path).reshape(rows * steps, d),
                        None if ids is None else np.repeat(ids, steps))


@functools.lru_cache(maxsize=4)
def _fixed_images(data_json: str, split: str, count: int):
  """The first `count` images (and labels) of a split, for reconstruction grids."""
  import ml_collections
  data = ml_collections.ConfigDict(json.loads(data_json))
  ds = pipeline.make_dataset(data, split, batch_size=count, train=False, process_index=0, process_count=1)
  batch = ds[0]
  return batch["image"], batch.get("label")


def sample_grid(config, state):
  """One grid: prior samples from fixed latents, then (input row, reconstruction row) pairs.

  With C = ceil(sqrt(num_grid_samples)) columns and R rows, the last 2 * max(1, R // 4)
  rows (when R >= 3) are pairs: a row of fixed test images above its reconstructions.
  A conditional VAE's sample column j is class j mod K. The latents and test images are
  the same at every step, so grids compare across steps.
  """
  n = config.get("num_grid_samples", 64)
  ncols = int(math.ceil(math.sqrt(n)))
  nrows = int(math.ceil(n / ncols))
  pairs = max(1, nrows // 4) if nrows >= 3 else 0
  num_samples = (nrows - 2 * pairs) * ncols
  z = jax.random.normal(jax.random.fold_in(jax.random.key(config.seed), _GRID_STREAM),
                        (num_samples, config.model.latent_dim))
  k = num_classes(config)
  ids = np.arange(num_samples, dtype=np.int32) % ncols % k if k else None
  rows = [decode_latents(config, state, z, ids)]
  if pairs:
    split = config.get("eval", {}).get("split", "test")
    x, labels = _fixed_images(config.data.to_json(), split, pairs * ncols)
    originals = pipeline.to_uint8(x)
    recons = reconstruct(config, state, originals, labels if k else None)
    for p in range(pairs):
      rows += [originals[p * ncols:(p + 1) * ncols], recons[p * ncols:(p + 1) * ncols]]
  return np.concatenate(rows), ncols


# ------------------------------------------------------------------------ evaluation

def test_bounds(config, state, num_samples: int | None = None, split: str | None = None, seed: int = 0) -> dict:
  """Negative ELBO and IWAE NLL over a split, in nats per image (and bits per dimension).

  `num_samples` is the IWAE's K (default `config.eval.iwae_samples`). Every image of the
  split counts once (the last batch is padded, then the padding dropped).
  """
  ev = config.get("eval", {})
  k = int(num_samples or ev.get("iwae_samples", 128))
  split = split or ev.get("split", "test")
  batch_size = int(ev.get("batch_size", 100))
  progs = programs(config)
  ds = pipeline.make_dataset(config.data, split, batch_size=batch_size, train=False,
                             process_index=0, process_count=1)
  key = jax.random.fold_in(jax.random.key(seed), _EVAL_STREAM)
  k_elbo, k_iwae = jax.random.split(key)
  recon, kl, log_px = [], [], []
  for i in range(len(ds)):
    batch = ds[i]
    n = len(batch["image"])
    x, labels = _pad(batch["image"], batch_size), batch.get("label")
    labels = _pad(labels, batch_size) if labels is not None and num_classes(config) else None
    r, kl_i = progs.elbo(state.params, x, labels, jax.random.fold_in(k_elbo, i))
    recon.append(np.asarray(r)[:n])
    kl.append(np.asarray(kl_i)[:n])
    log_px.append(np.asarray(progs.iwae(state.params, x, labels, jax.random.fold_in(k_iwae, i), k))[:n])
  recon, kl, log_px = (np.concatenate(v).astype(np.float64) for v in (recon, kl, log_px))
  dims = config.data.resolution ** 2 * config.data.channels
  nelbo, iwae_nll = float(np.mean(recon + kl)), float(-np.mean(log_px))
  return {
      "test_nelbo": nelbo, "test_recon": float(np.mean(recon)), "test_kl": float(np.mean(kl)),
      "test_iwae_nll": iwae_nll, "iwae_samples": k, "test_images": int(len(recon)),
      "test_nelbo_bpd": nelbo / (dims * math.log(2.0)), "test_iwae_bpd": iwae_nll / (dims * math.log(2.0)),
  }


def evaluate(config, state, options: dict) -> dict:
  """What `aigc eval` prints: test bounds, then the generator metrics of prior samples."""
  from aigc_jax.evaluation import run_eval
  seed = options.get("seed", 0) or 0
  result = test_bounds(config, state, options.get("iwae_samples"), seed=seed)
  num = options.get("num_samples") or config.get("eval", {}).get("num_samples", 2000)
  key = jax.random.fold_in(jax.random.key(seed), 12345)
  ids = resolve_labels(config, None, num)
  images = generate(config, state, key, num)
  result.update(run_eval.generator_metrics(config, images, {**options, "step": int(state.step)}, labels=ids))
  return result


TASK = Task(init_state=init_state, make_train_step=make_train_step, train_batches=train_batches,
            sample_grid=sample_grid, generate=generate, evaluate=evaluate)
