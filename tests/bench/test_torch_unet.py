"""The PyTorch U-Net of the diffusion bench is the library's U-Net: the same parameters
(count and names) and, with the weights copied, the same outputs and samples."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from aigc_jax.models import diffusion

torch = pytest.importorskip("torch")
from aigc_jax.bench import torch_unet  # noqa: E402  (after the skip: it needs torch to build)

TINY = dict(resolution=8, base_channels=8, channel_mult=(1, 2), num_res_blocks=1, attention_resolutions=(4,),
            num_groups=4)
CASES = {
    "conditional": dict(channels=1, num_classes=3, noise_embedding="positional"),
    "unconditional_fourier_rgb": dict(channels=3, num_classes=0, noise_embedding="fourier"),
}


def _random_params(arch, seed):
  """Flax parameters with every leaf random, the zero-initialised output layers too, so
  that no part of the network is trivially 0 in the comparison."""
  model = diffusion.UNet(**arch)
  r, c = arch["resolution"], arch["channels"]
  labels = jnp.zeros((1,), jnp.int32) if arch["num_classes"] else None
  params = model.init(jax.random.key(seed), jnp.zeros((1, r, r, c)), jnp.zeros((1,)), labels)["params"]
  flat = traverse_util.flatten_dict(params)
  rng = np.random.default_rng(seed)
  flat = {k: np.asarray(v) + rng.normal(0, 0.2, np.shape(v)).astype(np.float32) for k, v in flat.items()}
  return model, traverse_util.unflatten_dict(flat)


@functools.lru_cache(maxsize=None)
def _pair(case):
  """(architecture, Flax model, random Flax params, the PyTorch U-Net with them copied in)."""
  arch = {**TINY, **CASES[case]}
  model, params = _random_params(arch, seed=len(case))
  unet = torch_unet.build_unet(**arch)
  torch_unet.load_flax_params(unet, params)
  return arch, model, params, unet.eval()


@pytest.fixture(params=list(CASES))
def pair(request):
  return _pair(request.param)


def test_parameter_names_and_counts_match(pair):
  arch, _, params, unet = pair
  flax_sizes = {k: np.size(v) for k, v in traverse_util.flatten_dict(params).items()}
  torch_sizes = {torch_unet.flax_path(n): p.numel() for n, p in unet.named_parameters()}
  assert torch_sizes == flax_sizes
  assert sum(torch_sizes.values()) == sum(flax_sizes.values()) > 10_000


def test_forward_matches_on_copied_weights(pair):
  arch, model, params, unet = pair
  r, c, k = arch["resolution"], arch["channels"], arch["num_classes"]
  rng = np.random.default_rng(1)
  x = rng.normal(size=(3, r, r, c)).astype(np.float32)
  c_noise = np.log(np.array([0.01, 1.0, 50.0], np.float32)) / 4
  labels = np.array([0, k, 1], np.int32) if k else None  # The null class k too.
  want = np.asarray(jax.jit(model.apply)({"params": params}, x, c_noise, labels))
  with torch.no_grad():
    got = unet(torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(c_noise),
               None if labels is None else torch.from_numpy(labels).long()).permute(0, 2, 3, 1).numpy()
  assert np.abs(want).mean() > 0.1  # A real signal, not zeros.
  np.testing.assert_allclose(got, want, atol=2e-4 * np.abs(want).max())
  # Another label changes the output: the class path is compared, not bypassed.
  if k:
    with torch.no_grad():
      other = unet(torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(c_noise),
                   torch.tensor([1, 1, 1])).permute(0, 2, 3, 1).numpy()
    assert np.abs(other[0] - got[0]).max() > 1e-2


def test_heun_sampler_matches_the_library_sampler():
  # The conditional case only (its guided branch covers the unconditional call too):
  # one more sampler compile would double the test's time.
  from aigc_jax.train import diffusion as diffusion_train
  from aigc_jax.train import edm
  arch, model, params, unet = _pair("conditional")
  r, c, k = arch["resolution"], arch["channels"], arch["num_classes"]
  steps, guidance = 3, 1.5
  sigmas = edm.karras_sigmas(steps)
  np.testing.assert_array_equal(torch_unet.karras_sigmas(steps), sigmas)
  x0 = (np.random.default_rng(2).normal(size=(4, r, r, c)) * sigmas[0]).astype(np.float32)
  labels = np.arange(4, dtype=np.int32) % max(k, 1)
  denoise = diffusion_train.make_denoiser(model, params, 0.5)

  @jax.jit
  def jax_sample(x):
    d = (lambda y, s: edm.guided(denoise, guidance, k)(y, s, labels)) if k else (lambda y, s: denoise(y, s))
    return edm.solve(d, x, sigmas, method="heun")
  want = np.asarray(jax_sample(x0))
  architecture = {key: v for key, v in arch.items() if key != "num_classes"}
  step, samples = torch_unet.make_sampler(4, architecture, num_classes=k, steps=steps, guidance=guidance,
                                          params=params, x0=x0.transpose(0, 3, 1, 2).copy())
  step.run()
  got = samples().transpose(0, 2, 3, 1)
  assert np.abs(want).mean() > 0.05
  np.testing.assert_allclose(got, want, atol=1e-3 * np.abs(want).max())


def test_train_step_runs_with_a_finite_loss():
  step = torch_unet.make_step(4, {**TINY, "channels": 1}, num_classes=3, warmup_steps=2)
  losses = [float(step.run()) for _ in range(2)]
  step.wait()
  assert all(np.isfinite(losses)) and losses[0] != losses[1]
