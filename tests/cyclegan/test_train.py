"""The CycleGAN task: schedule, one step, learning, grids, translation, evaluation."""

import jax
import numpy as np
import pytest

from aigc_jax import configlib, evaluation, inference
from aigc_jax.data import cyclegan_data
from aigc_jax.errors import UserError
from aigc_jax.evaluation import cyclegan as cyclegan_evaluation
from aigc_jax.inference import cyclegan as cyclegan_inference
from aigc_jax.train import cyclegan, loop, sharding


def _config(**overrides):
  config = configlib.load_config("cyclegan_photos:smoke")
  for key, value in overrides.items():
    configlib.set_value(config, key, value)
  return config


def _initial_run(config, mesh):
  """A Run holding the freshly initialised state of `config` (nothing on disk)."""
  opts = cyclegan.parse(config)
  return inference.Run("unused", config, opts, cyclegan.TASK, loop.init_state(cyclegan.TASK, opts, mesh))


@pytest.fixture(scope="module")
def mesh():
  return sharding.make_mesh()


def test_schedule_is_constant_then_linear_to_zero():
  schedule = cyclegan.lr_schedule(2e-4, constant_steps=100, decay_steps=50)
  values = {s: float(schedule(s)) for s in (0, 99, 100, 125, 149, 150, 10_000)}
  np.testing.assert_allclose([values[0], values[99], values[100]], 2e-4, rtol=1e-6)
  np.testing.assert_allclose(values[125], 1e-4, rtol=1e-5)
  np.testing.assert_allclose(values[149], 2e-4 / 50, rtol=1e-4)
  assert values[150] == values[10_000] == 0.0
  assert float(cyclegan.lr_schedule(1e-3, 10, 0)(10**6)) == pytest.approx(1e-3)


def test_horse2zebra_schedule_is_the_papers_200_epochs():
  config = configlib.load_config("cyclegan_horse2zebra")
  assert config.num_steps == 200 * 1334
  schedule = cyclegan.config_schedule(cyclegan.parse(config))
  assert float(schedule(100 * 1334)) == pytest.approx(2e-4)
  assert float(schedule(150 * 1334)) == pytest.approx(1e-4)
  assert float(schedule(200 * 1334)) == 0.0
  config.n_epochs = 5  # num_steps follows the epochs unless set.
  assert config.num_steps == 105 * 1334


def test_one_step_changes_all_four_networks_and_fills_the_pools(mesh):
  opts = cyclegan.parse(_config())
  task = cyclegan.TASK
  state = loop.init_state(task, opts, mesh)
  before = jax.device_get(state)
  batch = sharding.shard_batch(next(task.train_batches(opts, 0)), mesh)
  state, metrics = loop.compile_train_step(task, opts, mesh)(state, batch, jax.random.key(0))
  after = jax.device_get(state)
  for group, name in (("g_params", "AtoB"), ("g_params", "BtoA"), ("d_params", "A"), ("d_params", "B")):
    old, new = getattr(before, group)[name], getattr(after, group)[name]
    changed = [not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(old), jax.tree.leaves(new), strict=True)]
    assert all(changed), f"{group}[{name}]: {changed.count(False)} of {len(changed)} arrays unchanged"
  assert int(after.step) == 1 and int(after.pool_a.count) == int(after.pool_b.count) == 1
  assert np.abs(after.pool_a.images[0]).max() > 0 and not after.pool_a.images[1:].any()
  assert set(metrics) == {"g_loss", "g_adv_a", "g_adv_b", "cycle_a", "cycle_b", "idt_a", "idt_b",
                          "d_a", "d_b", "lr"}
  assert all(np.isfinite(float(v)) for v in metrics.values())


def test_cycle_error_falls_in_a_short_run(tmp_path, mesh):
  # The smoke config's whole schedule, 450 steps of tiny networks on the embedded photos:
  # about 40 s of training on one core. Both reconstruction errors of the test crops fall
  # by more than a fifth (measured: 0.58 -> 0.41 each way on a CPU).
  config = _config(num_steps=450, log_every=150, sample_every=1000, checkpoint_every=1000)
  before, _ = cyclegan_evaluation.cycle_errors(_initial_run(config, mesh))
  state = loop.train_and_evaluate(config, str(tmp_path), mesh=mesh, progress=False)
  after, fakes = cyclegan_evaluation.cycle_errors(inference.load(str(tmp_path)))
  assert int(state.step) == 450
  for domain in "AB":
    assert after[domain] < 0.8 * before[domain], (before, after)
  assert fakes["A"].shape == (8, 32, 32, 3) and fakes["A"].dtype == np.uint8


def test_resume_ends_where_an_uninterrupted_run_ends(tmp_path, mesh):
  # Parameters, optimiser states and both image pools: the pools' random choices come
  # from the step's key and the crops from (seed, step), so nothing is left to chance.
  run = lambda steps, name: loop.train_and_evaluate(  # Checkpoints and grids at the end only.
      _config(num_steps=steps, checkpoint_every=100, sample_every=100), str(tmp_path / name),
      mesh=mesh, progress=False)
  straight = run(6, "straight")
  run(4, "resumed")
  resumed = run(6, "resumed")
  assert int(resumed.pool_a.count) == 6
  for x, y in zip(jax.tree.leaves(jax.device_get(straight)), jax.tree.leaves(jax.device_get(resumed)),
                  strict=True):
    np.testing.assert_array_equal(x, y)


def test_translate_keeps_odd_sizes_and_rejects_tiny_images(mesh):
  run = _initial_run(_config(), mesh)
  image = np.random.default_rng(0).integers(0, 256, (37, 45, 3), dtype=np.uint8)
  for direction in ("AtoB", "BtoA"):
    out = cyclegan_inference.translate(run, image, direction)
    assert out.shape == (37, 45, 3) and out.dtype == np.uint8
  with pytest.raises(UserError, match="at least 8x8"):
    cyclegan_inference.translate(run, image[:5], "AtoB")
  with pytest.raises(UserError, match="unknown direction"):
    cyclegan_inference.translate(run, image, "AtoC")


def test_grid_rows_and_eval_with_fid(mesh, monkeypatch):
  config = _config()
  run = _initial_run(config, mesh)
  grid, ncols = cyclegan.sample_grid(run.opts, run.state)
  assert ncols == 8 and grid.shape == (6 * 8, 32, 32, 3)
  np.testing.assert_array_equal(grid[:8], cyclegan_data.test_images(config.data, "A"))
  np.testing.assert_array_equal(grid[24:32], cyclegan_data.test_images(config.data, "B"))

  from aigc_jax import metrics
  calls = []
  def fake_images_metrics(images, metrics, weights_path, ref_path, ref_images):
    calls.append((images, metrics, weights_path, ref_images))
    return {"num_images": len(images), "fid": 12.5}
  monkeypatch.setattr(metrics, "images_metrics", fake_images_metrics, raising=False)
  result = cyclegan_evaluation.evaluate(run, metrics=["fid"], inception_weights="w.safetensors")
  assert result["fid"] == 12.5 and result["num_test_a"] == result["num_test_b"] == 8
  assert result["cycle_error"] == pytest.approx((result["cycle_error_a"] + result["cycle_error_b"]) / 2)
  images, names, weights, ref = calls[0]
  # Translated test A against real test B.
  np.testing.assert_array_equal(images, grid[8:16])
  np.testing.assert_array_equal(ref, grid[24:32])
  assert names == ("fid",) and weights == "w.safetensors"
  with pytest.raises(UserError, match="fid"):
    cyclegan_evaluation.evaluate(run, metrics=["is"])
  # The family-generic entry point: the same result, and a flag CycleGAN does not take
  # is a one-line error naming it.
  assert evaluation.evaluate(run, metrics=["fid"], inception_weights="w.safetensors") == result
  with pytest.raises(UserError, match="--mask-type does not apply to a 'cyclegan' run"):
    evaluation.evaluate(run, mask_type="center")
