"""pix2pix training (Isola et al., 2017): paired image-to-image translation.

The original recipe: a U-Net generator (`aigc_jax.models.unet`, dropout 0.5 in the
first three decoder blocks) and a 70x70 PatchGAN discriminator on the concatenated
(input, output) pair; the non-saturating GAN loss (times `gan_weight`, 1; 0 gives the L1-only baseline) plus
`lambda_l1` (100) times L1; Adam
2e-4, beta1 0.5; a constant learning rate for the first half of the run and a linear
decay to zero over the second; load at `load_size` (286), random crop to `crop_size`
(256) and random flip, identical for input and target (`aigc_jax.data.paired`).

One step is the family kit's adversarial update (`aigc_jax.train.adversarial`). Two
differences from the release, said here so nobody trips on them: the discriminator
uses instance normalisation (the release's default is batch norm, which at its default
batch of 1 normalises each image alone too, with a learned scale and shift), and its
loss is not halved (Adam is invariant to that scale).

`model.crf` puts a Gaussian CRF guided by the input image after the generator's tanh
(`aigc_jax.crf`), trained end to end. `test_mode` says how a trained generator runs:
"paper" (dropout on, batch statistics of the test batch, as the paper and release test)
or "running" (dropout off, running statistics: the usual alternative).
"""

import dataclasses
import functools

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from aigc_jax import crf as crf_lib
from aigc_jax import losses, options as options_lib
from aigc_jax.data import paired, pipeline
from aigc_jax.models import patchgan, unet
from aigc_jax.options import inline, one_of, require
from aigc_jax.train import adversarial, chunked, keys, precision
from aigc_jax.train.adversarial import AdversarialOptions
from aigc_jax.train.cyclegan import lr_schedule
from aigc_jax.train.task import RunOptions, Task

TEST_MODES = ("paper", "running")


@flax.struct.dataclass
class Pix2PixState:
  step: jax.Array
  g_params: dict
  g_batch_stats: dict  # The U-Net's BatchNorm statistics ({} with instance norm).
  d_params: dict
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState


@dataclasses.dataclass(frozen=True)
class Pix2PixModel:
  """`config.model`: U-Net width and normalisation, PatchGAN width and layers, the CRF."""
  ngf: int
  ndf: int
  n_layers_d: int
  norm: str
  crf: crf_lib.CRFBlock

  def check(self):
    one_of(self.norm, unet.NORMS, "model.norm")
    require(min(self.ngf, self.ndf, self.n_layers_d) >= 1, "model.ngf, model.ndf and model.n_layers_d must be >= 1")


@dataclasses.dataclass(frozen=True)
class PairedData:
  """The keys of `config.data` the step uses; `config` is the whole section."""
  load_size: int
  crop_size: int
  flip: bool
  config: ml_collections.ConfigDict = options_lib.section()

  def check(self):
    paired.check(self.config)
    unet.levels_for(self.crop_size)


@dataclasses.dataclass(frozen=True)
class Pix2PixOptions:
  run: RunOptions = inline()
  data: PairedData
  model: Pix2PixModel
  loss: str
  gan_weight: float
  lambda_l1: float
  optimizer: adversarial.Adam
  test_mode: str

  def check(self):
    one_of(self.loss, losses.LOSSES, "loss")
    one_of(self.test_mode, TEST_MODES, "test_mode")
    require(self.lambda_l1 >= 0 and self.gan_weight >= 0,
            f"lambda_l1 and gan_weight must be >= 0, got {self.lambda_l1} and {self.gan_weight}")

  @property
  def adversarial(self) -> AdversarialOptions:
    return AdversarialOptions(loss=self.loss, n_critic=1, gp_weight=0.0, r1_gamma=0.0, ema_decay=0.0)


def parse(config) -> Pix2PixOptions:
  return options_lib.parse(Pix2PixOptions, config)


# ------------------------------------------------------------------------ building

@functools.lru_cache(maxsize=8)
def channels(opts: Pix2PixOptions) -> tuple[int, int]:
  """(input channels, target channels) of the run's data."""
  return paired.channels(opts.data.config)


def build_models(opts: Pix2PixOptions):
  """(U-Net generator, PatchGAN discriminator)."""
  m = opts.model
  dtype = precision.compute_dtype(opts.run.compute_dtype)
  _, cout = channels(opts)
  g = unet.UnetGenerator(num_downs=unet.levels_for(opts.data.crop_size), out_channels=cout, ngf=m.ngf,
                         norm=m.norm, crf=m.crf.options(), dtype=dtype)
  d = patchgan.PatchDiscriminator(ndf=m.ndf, n_layers=m.n_layers_d, dtype=dtype)
  return g, d


def schedule(opts: Pix2PixOptions) -> optax.Schedule:
  """Constant for the first half of the run, then linear to zero."""
  half = opts.run.num_steps // 2
  return lr_schedule(opts.optimizer.lr, half, opts.run.num_steps - half)


def build_optimizers(opts: Pix2PixOptions):
  o = opts.optimizer
  return optax.adam(schedule(opts), b1=o.b1, b2=o.b2), optax.adam(schedule(opts), b1=o.b1, b2=o.b2)


def _init_key(key):
  """An rbg key for the initialisers: threefry draws compile slowly on a CPU (see
  `aigc_jax.train.cyclegan._init_key`)."""
  return jax.random.key(jax.random.bits(key, (), jnp.uint32), impl="rbg")


def init_state(opts: Pix2PixOptions, key) -> Pix2PixState:
  g, d = build_models(opts)
  g_tx, d_tx = build_optimizers(opts)
  cin, cout = channels(opts)
  s = opts.data.crop_size
  k_g, k_d = jax.random.split(_init_key(key))
  g_vars = g.init(k_g, jnp.zeros((1, s, s, cin)))
  d_params = d.init(k_d, jnp.zeros((1, s, s, cin + cout)))["params"]
  return Pix2PixState(step=jnp.zeros((), jnp.int32), g_params=g_vars["params"],
                      g_batch_stats=g_vars.get("batch_stats", {}), d_params=d_params,
                      g_opt_state=g_tx.init(g_vars["params"]), d_opt_state=d_tx.init(d_params))


# ------------------------------------------------------------------------ the step

def make_train_step(opts: Pix2PixOptions):
  """Returns `train_step(state, batch, key) -> (state, metrics)`, pure and jit-able.

  `batch` is {"input", "target"} float32 at `load_size`; crop and flip happen here.
  """
  g, d = build_models(opts)
  g_tx, d_tx = build_optimizers(opts)
  adv = losses.get_loss(opts.loss)
  lr = schedule(opts)

  def train_step(state: Pix2PixState, batch, key):
    k_aug, k_drop, k_d = jax.random.split(key, 3)
    pair = paired.augment(k_aug, batch, opts.data.crop_size, opts.data.flip)
    x, target = pair["input"], pair["target"]

    def generate(params):
      out, mut = g.apply({"params": params, "batch_stats": state.g_batch_stats}, x, train=True, dropout=True,
                         rngs={"dropout": k_drop}, mutable=["batch_stats"])
      return out, mut.get("batch_stats", {})

    def d_apply(params, collections, image):
      return d.apply({"params": params}, jnp.concatenate([x, image], axis=-1)), collections
    critic = adversarial.Critic(d_apply, d_tx)

    def g_loss(fake, d_params, d_collections):
      gan = jnp.mean(adv.g_loss(d_apply(d_params, d_collections, fake)[0]))
      l1 = jnp.mean(jnp.abs(fake - target))
      return opts.gan_weight * gan + opts.lambda_l1 * l1, (gan, l1)

    g_params, g_opt_state, g_batch_stats, dst, d_metrics, g_loss_value, (gan, l1) = adversarial.update(
        generate=generate, g_params=state.g_params, g_opt_state=state.g_opt_state, g_tx=g_tx, critic=critic,
        d=adversarial.DState(state.d_params, {}, state.d_opt_state), opts=opts.adversarial, real=target,
        g_loss=g_loss, key=jax.random.split(k_d, 2))
    new_state = state.replace(step=state.step + 1, g_params=g_params, g_batch_stats=g_batch_stats,
                              d_params=dst.params, g_opt_state=g_opt_state, d_opt_state=dst.opt_state)
    return new_state, {"g_loss": g_loss_value, "g_gan": gan, "l1": l1, "d_loss": d_metrics["d_loss"],
                       "d_real": d_metrics["d_real"], "d_fake": d_metrics["d_fake"], "lr": lr(state.step)}
  return train_step


def train_batches(opts: Pix2PixOptions, start_step: int):
  return paired.train_batches(opts.data.config, batch_size=opts.run.batch_size, seed=opts.run.seed,
                              start_step=start_step)


# ------------------------------------------------------------------------ the generator

@functools.lru_cache(maxsize=8)
def _generator_program(opts: Pix2PixOptions, mode: str):
  g, _ = build_models(opts)
  if mode == "running":
    return jax.jit(lambda variables, x, key: g.apply(variables, x, train=False, dropout=False))
  # "paper": dropout on and the test batch's own statistics (thrown away afterwards).
  return jax.jit(lambda variables, x, key: g.apply(variables, x, train=True, dropout=True, rngs={"dropout": key},
                                                   mutable=["batch_stats"])[0])


def translate_batch(opts: Pix2PixOptions, state, images, key, mode: str | None = None) -> np.ndarray:
  """float32 inputs [N, H, W, Cin] in [-1, 1] (H, W multiples of 2**levels) -> outputs
  [N, H, W, Cout]. In "paper" mode the batch statistics are those of the whole batch, as
  the release computes them, so the call is not chunked."""
  mode = mode or opts.test_mode
  variables = {"params": state.g_params, "batch_stats": state.g_batch_stats}
  program = _generator_program(opts, mode)
  if mode == "paper" and opts.model.norm == "batch":
    return np.asarray(program(variables, jnp.asarray(images, jnp.float32), key))
  return chunked.chunked_apply(lambda x: program(variables, x, key), np.asarray(images, np.float32), chunk=64)


def sample_grid(opts: Pix2PixOptions, state):
  """Three rows from the same test pairs at every step: input, output, target (inputs
  with fewer channels than the target are shown repeated to the target's)."""
  pairs = paired.test_pairs(opts.data.config, opts.run.num_grid_samples)
  out = translate_batch(opts, state, pipeline.to_model_range(pairs["input"]), keys.stream_key(opts.run.seed, "grid"))
  cout = pairs["target"].shape[-1]
  shown = np.repeat(pairs["input"], cout, axis=-1) if pairs["input"].shape[-1] < cout else pairs["input"][..., :cout]
  rows = np.concatenate([shown, pipeline.to_uint8(out), pairs["target"]])
  return rows, len(pairs["input"])


TASK = Task(parse=parse, init_state=init_state, make_train_step=make_train_step,
            train_batches=train_batches, sample_grid=sample_grid)
