"""The U-Net: the shipped config's size, shapes, the start at D = c_skip * y; the `:flow`
objective wired through the train step and the sampler; bad settings refused at load."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax import configlib
from aigc_jax.errors import UserError
from aigc_jax.models.diffusion import UNet
from aigc_jax.train import diffusion, edm


def test_shipped_config_has_the_probes_million_parameters():
  opts = diffusion.parse(configlib.load_config("diffusion_digits"))
  shapes = jax.eval_shape(lambda k: diffusion.init_state(opts, k), jax.random.key(0))
  count = sum(x.size for x in jax.tree.leaves(shapes.params))
  assert count == 1_003_137, count
  uncond = diffusion.parse(configlib.load_config("diffusion_digits:uncond"))
  shapes = jax.eval_shape(lambda k: diffusion.init_state(uncond, k), jax.random.key(0))
  assert count - sum(x.size for x in jax.tree.leaves(shapes.params)) == 11 * 128  # The class table.


def test_unet_shapes_and_initial_denoiser():
  model = UNet(resolution=8, channels=3, base_channels=8, channel_mult=(1, 2), num_res_blocks=1,
               attention_resolutions=(4,), num_classes=3, noise_embedding="fourier", num_groups=4)
  x = jax.random.normal(jax.random.key(1), (2, 8, 8, 3))
  sigma, labels = jnp.array([0.1, 5.0]), jnp.array([0, 3])  # 3: the null class.
  params = model.init(jax.random.key(0), x, sigma, labels)["params"]  # Eager: compiling the U-Net costs more.
  out = model.apply({"params": params}, x, sigma, labels)
  assert out.shape == (2, 8, 8, 3) and out.dtype == jnp.float32
  np.testing.assert_array_equal(out, 0.0)  # The output conv starts at zero: D(y) = c_skip y.
  d = diffusion.make_denoiser(model, params, 0.5)(x, sigma, labels)
  np.testing.assert_allclose(d, edm.precondition(sigma).c_skip[:, None, None, None] * x, rtol=1e-6)


def test_folder_configs_at_32_and_64_pixels():
  """Each folder config's U-Net reaches 8x8 at its lowest level, where attention runs."""
  for variant, size, levels in (("res32", 32, 3), ("res64", 64, 4)):
    opts = diffusion.parse(configlib.load_config(f"diffusion_folder:{variant}"))
    assert opts.data.resolution == size and len(dict(opts.model.architecture)["channel_mult"]) == levels
    assert size // 2 ** (levels - 1) == 8
    shapes = jax.eval_shape(lambda k: diffusion.init_state(opts, k), jax.random.key(0))
    assert 5e6 < sum(x.size for x in jax.tree.leaves(shapes.params)) < 2e7
    assert opts.model.num_classes == 0
  assert diffusion.parse(configlib.load_config("diffusion_folder:cond+res32")).model.num_classes > 0
  # EDM's objective, as its docstring says, though digits trains the flow; `:flow` is the flow.
  assert configlib.load_config("diffusion_folder").edm.objective == "edm"
  assert configlib.load_config("diffusion_folder:flow").edm.objective == "flow"


def test_flow_train_step_minimises_the_flow_matching_loss():
  """`diffusion_digits:flow`: the train step's loss is (F(x_t, c_noise) - (n - x))^2 at
  x_t = (1 - t) x + t n with logit t ~ N(0, 1), computed here from the same keys; and
  the untrained net (F = 0: x_hat = x_t) samples x_t at sigma_max, n / (1 + 80) times
  80, not EDM's sd / sqrt(80^2 + sd^2) times 80, by the deterministic (unchurned) ODE."""
  config = configlib.load_config("diffusion_digits:smoke+uncond+flow")
  config.sampler.s_churn = 0.0
  opts = diffusion.parse(config)
  assert opts.edm.objective == "flow" and (opts.edm.p_mean, opts.edm.p_std) == (0.0, 1.0)
  state0 = jax.jit(diffusion.init_state, static_argnums=0)(opts, jax.random.key(0))
  model = diffusion.build_model(opts)
  # A nonzero output conv, so F is not 0.
  params = jax.tree.map(lambda p: p + 0.05 * jax.random.normal(jax.random.key(1), p.shape), state0.params)
  r = opts.data.resolution
  x = jax.random.uniform(jax.random.key(2), (opts.run.batch_size, r, r, 1), minval=-1, maxval=1)
  key = jax.random.key(3)
  _, metrics = jax.jit(diffusion.make_train_step(opts))(state0.replace(params=params), {"image": x}, key)
  k_sigma, k_noise, _, _ = jax.random.split(key, 4)
  sigma = edm.sample_sigmas(k_sigma, x.shape[0], 0.0, 1.0)
  n = jax.random.normal(k_noise, x.shape)
  t = (sigma / (1 + sigma))[:, None, None, None]
  f = jax.jit(model.apply)({"params": params}, (1 - t) * x + t * n, jnp.log(sigma) / 4)
  np.testing.assert_allclose(metrics["loss"], jnp.mean((f - (n - x)) ** 2), rtol=1e-4)

  program = diffusion.sampling_program(opts, 18, None, "heun", jax.device_count())
  keys = jax.random.key_data(jax.random.split(jax.random.key(4), 64))
  out = np.asarray(program(state0.ema_params, keys, None))
  np.testing.assert_allclose(out.std(), 80 / 81, rtol=0.05)


@pytest.mark.parametrize("key,value,message", [
    ("edm.objective", "score", "edm.objective"),
    ("sampler.s_churn", -1.0, "s_churn must be >= 0"),
    ("sampler.s_tmin", 60.0, r"0 <= s_tmin <= s_tmax .* got 60.0 and 50.0"),
    ("sampler.s_noise", 0.0, "s_noise must be > 0"),
])
def test_bad_settings_are_refused_at_load(key, value, message):
  config = configlib.load_config("diffusion_digits")
  section, leaf = key.split(".")
  config[section][leaf] = value
  with pytest.raises(UserError, match=message):
    diffusion.parse(config)


def test_a_run_trained_before_the_objective_key_loads_as_edm(tmp_path):
  """A diffusion run's config.json written before `edm.objective` existed still loads (as
  EDM, what it was trained with)."""
  config = configlib.load_config("diffusion_digits:edm")
  del config.edm["objective"]
  (tmp_path / "config.json").write_text(config.to_json())
  assert diffusion.parse(configlib.config_from_workdir(str(tmp_path))).edm.objective == "edm"
  (tmp_path / "config.json").write_text(configlib.load_config("dcgan_digits").to_json())
  assert "edm" not in configlib.config_from_workdir(str(tmp_path))  # Only where the section exists.


def test_a_resume_may_not_switch_the_objective(tmp_path):
  """A flow config (the shipped one) on an EDM run's workdir is refused; `:edm` on a run
  saved before `edm.objective` existed is no change at all."""
  from aigc_jax.train import workdir
  old = configlib.load_config("diffusion_digits:edm")
  del old.edm["objective"]
  (tmp_path / "config.json").write_text(old.to_json())
  old = configlib.config_from_workdir(str(tmp_path))  # As a resume reads it.
  assert workdir.config_differences(old, configlib.load_config("diffusion_digits:edm")) == {}
  workdir.check_resume(old, configlib.load_config("diffusion_digits:edm"), str(tmp_path))
  with pytest.raises(UserError, match=r"edm.objective \('edm' -> 'flow'\)"):
    workdir.check_resume(old, configlib.load_config("diffusion_digits"), str(tmp_path))
