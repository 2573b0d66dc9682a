"""The diffusion rows of `aigc bench`: the U-Net's EDM train step and its Heun sampler,
each against the PyTorch reference of the same network and algorithm (`torch_unet`),
interleaved in one run.

- "diffusion_<dtype>": the library's real jitted train step of `diffusion_digits:edm`
  (class-conditional, label dropout, EDM loss, Adam with warm-up, EMA) on a fixed batch,
  and `torch_unet.make_step`; useful FLOP/s from `flops.unet_step_flops`.
- "diffusion_sample_<dtype>": the library's jitted sampler (`sampling_program`, Heun on
  the Karras schedule at the config's guidance, without churn) drawing `diffusion_samples` images in
  `diffusion_steps` steps, and `torch_unet.make_sampler` on the same weights (the
  initial weights, every leaf perturbed so that no layer is zero) and the same starting
  noise; images/s, useful FLOP/s (`flops.unet_sampling_flops`) and the largest
  difference between the two sets of samples.

Sizes: `diffusion_batch`, `diffusion_resolution`, `diffusion_channels` and
`diffusion_base_channels` of `Options`; the U-Net has one level per halving down to 8x8,
and at least two (`channel_mult` 1, 2, 2, ...), with attention at its lowest resolution:
at 8x8 (the cpu preset) it is `diffusion_digits`' network, at 16x16 its `:res16`.
"""

import time

import jax
import numpy as np

from aigc_jax.bench import flops, timing
from aigc_jax.bench.options import Options


def channel_mult(resolution: int) -> tuple:
  """One level per size from `resolution` down to 8, at least two (1 at full size, then 2s)."""
  levels = max(2, int(np.log2(resolution // 8)) + 1) if resolution >= 8 else 2
  return (1,) + (2,) * (levels - 1)


def diffusion_config(opts: Options, dtype: str):
  """`diffusion_digits:edm` (class-conditional, EDM's objective, as the PyTorch reference)
  at the benchmark's sizes; the shipped flow objective costs the same network calls."""
  from aigc_jax import configlib
  config = configlib.load_config("diffusion_digits:edm")
  config.batch_size = opts.diffusion_batch
  config.data.resolution, config.data.channels = opts.diffusion_resolution, opts.diffusion_channels
  config.model.base_channels = opts.diffusion_base_channels
  config.model.channel_mult = channel_mult(opts.diffusion_resolution)
  config.model.attention_resolutions = (opts.diffusion_resolution // 2 ** (len(config.model.channel_mult) - 1),)
  config.sampler.steps = opts.diffusion_steps
  config.sampler.s_churn = 0.0  # The deterministic ODE sampler, as the reference: same noise, same samples.
  config.compute_dtype = dtype
  return config


def architecture(config) -> dict:
  """The U-Net's keyword arguments (without num_classes) of a diffusion config."""
  m = config.model
  return dict(resolution=config.data.resolution, channels=config.data.channels, base_channels=m.base_channels,
              channel_mult=tuple(m.channel_mult), num_res_blocks=m.num_res_blocks,
              attention_resolutions=tuple(m.attention_resolutions), noise_embedding=m.noise_embedding,
              dropout=m.dropout, num_groups=m.num_groups)


def _perturbed(params, seed: int = 0, scale: float = 0.05):
  """Every leaf plus Gaussian noise: the zero-initialised output layers included."""
  leaves, tree = jax.tree.flatten(params)
  rng = np.random.default_rng(seed)
  return jax.tree.unflatten(tree, [np.asarray(p) + rng.normal(0, scale, np.shape(p)).astype(np.float32)
                                   for p in leaves])


def train_row(opts: Options, dtype: str, peaks: dict, log=print) -> dict:
  from aigc_jax.bench import steps as bench_steps, torch_unet
  config = diffusion_config(opts, dtype)
  arch, b = architecture(config), opts.diffusion_batch
  k = config.model.num_classes
  r, c = arch["resolution"], arch["channels"]
  batch = {"image": bench_steps.uniform_images((b, r, r, c)),
           "label": np.random.default_rng(1).integers(0, k, b).astype(np.int32)}
  e, o = config.edm, config.optimizer
  torch_kwargs = dict(batch=b, architecture=arch, num_classes=k, sigma_data=e.sigma_data, p_mean=e.p_mean,
                      p_std=e.p_std, label_dropout=e.label_dropout, lr=o.lr, b1=o.b1, b2=o.b2,
                      warmup_steps=o.warmup_steps, ema_decay=config.ema_decay)
  return bench_steps.step_row("diffusion", dtype, config, batch, b, opts, peaks, log,
                           torch_make=torch_unet.make_step, torch_kwargs=torch_kwargs,
                           useful_flops=flops.unet_step_flops(b, num_classes=k, **arch))


def sample_row(opts: Options, dtype: str, peaks: dict, log=print) -> dict:
  from aigc_jax.bench import steps as bench_steps, torch_unet
  from aigc_jax.train import diffusion, edm, sharding
  from aigc_jax.train.task import parse_config
  config = diffusion_config(opts, dtype)
  _, dopts = parse_config(config)
  arch, n, steps = architecture(config), opts.diffusion_samples, opts.diffusion_steps
  k, guidance = config.model.num_classes, config.sampler.guidance
  prefix = f"diffusion_sample_{dtype}"
  out = {f"{prefix}_network_evaluations": edm.network_evaluations(steps, "heun") * (1 if guidance in (0, 1) else 2)}

  start = time.perf_counter()
  state = diffusion.init_state(dopts, jax.random.key(0))
  params = jax.device_put(_perturbed(state.ema_params), sharding.replicated(sharding.make_mesh()))
  program = diffusion.sampling_program(dopts, steps, guidance, "heun", jax.device_count())
  key_data = np.asarray(jax.random.key_data(jax.random.split(jax.random.key(1), n)))
  labels = np.arange(n, dtype=np.int32) % k
  result = {}

  def run():
    result["jax"] = program(params, key_data, labels)

  jax_step = timing.Step(run, lambda: jax.block_until_ready(result["jax"]))
  run()
  jax_step.wait()
  out[f"{prefix}_first_call_s"] = time.perf_counter() - start
  steps_by_name, fetch = {"jax": jax_step}, {}
  if opts.torch_reference:
    shape = (arch["resolution"], arch["resolution"], arch["channels"])
    sigmas = edm.karras_sigmas(steps, config.sampler.sigma_min, config.sampler.sigma_max, config.sampler.rho)
    x0 = np.asarray(jax.vmap(lambda kk: jax.random.normal(kk, shape))(jax.random.wrap_key_data(key_data)))
    x0 = (x0 * np.float32(sigmas[0])).transpose(0, 3, 1, 2).copy()

    def make(device, dtype, compile=False):
      step, get = torch_unet.make_sampler(n, arch, num_classes=k, steps=steps, guidance=guidance,
                                          params=jax.device_get(params), x0=x0, device=device, dtype=dtype,
                                          compile=compile)
      fetch["torch_compile" if compile else "torch"] = get
      return step
    torch_steps, notes = bench_steps.torch_steps(make, opts, dtype, prefix, log)
    steps_by_name.update(torch_steps)
    out.update(notes)
  secs = timing.interleaved(steps_by_name, opts.rounds, 1)
  out[f"{prefix}_jax_images_per_s"] = n / secs["jax"]
  for ref in ("torch", "torch_compile"):
    if ref in secs:
      out[f"{prefix}_{ref}_images_per_s"] = n / secs[ref]
      out[f"{prefix}_ratio_vs_{ref}"] = secs[ref] / secs["jax"]
  if "torch" in fetch:
    jax_samples = np.asarray(result["jax"])
    out[f"{prefix}_max_abs_diff"] = float(np.abs(fetch["torch"]().transpose(0, 2, 3, 1) - jax_samples).max())
    out[f"{prefix}_mean_abs_sample"] = float(np.abs(jax_samples).mean())
  useful = flops.unet_sampling_flops(n, steps, "heun", guided=guidance not in (0, 1), num_classes=k, **arch)
  out[f"{prefix}_useful_gflops"] = useful / secs["jax"] / 1e9
  if peaks.get(dtype):
    out[f"{prefix}_peak_fraction"] = out[f"{prefix}_useful_gflops"] / peaks[dtype]
  log(", ".join(f"{key} {v:.3g}" if isinstance(v, float) else f"{key} {v}" for key, v in out.items()))
  return out


def row(opts: Options, dtype: str, peaks: dict, log=print) -> dict:
  """The train-step figures and the sampling figures in one dict."""
  return {**train_row(opts, dtype, peaks, log), **sample_row(opts, dtype, peaks, log)}
