"""Run in a subprocess with 8 host devices: two train steps on 1 device vs on 8 devices.

For each checked config (a GAN and a restoration run: tasks whose steps draw their
randomness differently), prints the largest absolute difference between the two
resulting states and between their metrics. Then the diffusion sampler, whose program is
sharded over the devices, on a sample count that does not divide by 8.
"""

import os

import jax
import numpy as np

from aigc_jax import configlib
from aigc_jax.train import loop, sharding
from aigc_jax.train.task import parse_config


def run(devices, config, batch, steps=2):
  mesh = sharding.make_mesh(devices)
  task, opts = parse_config(config)
  state = loop.init_state(task, opts, mesh)
  step = loop.compile_train_step(task, opts, mesh)
  for s in range(steps):
    state, metrics = step(state, sharding.shard_batch(batch, mesh), jax.random.fold_in(jax.random.key(1), s))
  return jax.device_get(state), jax.device_get(metrics)


def _normalised_away(config, path: str) -> bool:
  """The PatchGAN's biases of the convolutions followed by InstanceNorm (Conv_1 ..
  Conv_n): the norm subtracts them again, so their true gradient is zero, and Adam turns
  its rounding noise (which differs with the device count) into steps of up to lr. They
  never change an output, so the check leaves them out."""
  if config.task != "restoration" or not path.startswith(".d_params"):
    return False
  return any(f"['Conv_{k}']['bias']" in path for k in range(1, config.model.d_layers + 1))


def main():
  if os.environ.get("AIGC_JAX_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir", os.environ["AIGC_JAX_CACHE_DIR"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  assert jax.device_count() == 8, jax.devices()
  for name in ("dcgan_digits:smoke", "inpaint_digits:smoke"):
    config = configlib.load_config(name)
    config.batch_size = 16
    batch = {"image": np.random.default_rng(0).uniform(-1, 1, (16, 16, 16, 1)).astype(np.float32)}
    one, m1 = run(jax.devices()[:1], config, batch)
    eight, m8 = run(jax.devices(), config, batch)
    diff = max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
               for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(one), jax.tree.leaves(eight), strict=True)
               if not _normalised_away(config, jax.tree_util.keystr(path)))
    mdiff = max(abs(float(m1[k]) - float(m8[k])) for k in m1)
    print(f"MAXDIFF {name} {diff} {mdiff}")
  diffusion_sampling_check()


def diffusion_sampling_check():
  """Prints the largest difference (uint8 levels) between 10 samples of the smoke U-Net
  (randomly perturbed weights) and the first 10 of 16 drawn from the same keys: 10 is
  neither a multiple of the 8 devices nor of `sampler.chunk`."""
  from aigc_jax.bench.diffusion import _perturbed
  from aigc_jax.train import diffusion
  task, opts = parse_config(configlib.load_config("diffusion_digits:smoke"))
  state = loop.init_state(task, opts, sharding.make_mesh())
  state = state.replace(ema_params=_perturbed(state.ema_params))
  keys = jax.random.key_data(jax.random.split(jax.random.key(0), 16))
  labels = np.arange(16) % opts.model.num_classes
  ten = diffusion.sample_keys(opts, state, keys[:10], labels[:10])
  sixteen = diffusion.sample_keys(opts, state, keys, labels)
  spread = int(np.ptp(sixteen.astype(int)))  # Not a constant image: the check can fail.
  print(f"DIFFUSION {len(ten)} {int(np.max(np.abs(ten.astype(int) - sixteen[:10].astype(int))))} {spread}")


if __name__ == "__main__":
  main()
