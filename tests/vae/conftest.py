"""One short conditional-VAE digits run shared by the VAE tests (compiling is the larger
part of a short test on a CPU, so the train, CLI and evaluation tests reuse one run)."""

import types

import pytest

from aigc_jax import configlib
from aigc_jax.cli.main import main

# A few hundred steps of a small conditional conv VAE: well under a minute on one core.
SHORT_RUN = [
    "--config", "cvae_digits", "--config.num_steps=200", "--config.batch_size=32",
    "--config.log_every=50", "--config.sample_every=200", "--config.checkpoint_every=200",
    "--config.num_grid_samples=16", "--config.model.latent_dim=8", "--config.model.features=(16, 32)",
    "--config.model.hidden=64", "--config.optimizer.lr=2e-3", "--config.eval.iwae_samples=16",
    "--config.eval.iwae_chunk=16", "--config.eval.num_samples=200",
]


@pytest.fixture(scope="session")
def short_run(tmp_path_factory):
  """(config, options, workdir, the loaded run, its trained state, test bounds at
  initialisation, after training)."""
  from aigc_jax import inference
  from aigc_jax.evaluation import vae as vae_evaluation
  from aigc_jax.train import loop, sharding, vae
  config = configlib.apply_overrides(configlib.load_config("cvae_digits"), SHORT_RUN[2:])
  opts = vae.parse(config)
  workdir = str(tmp_path_factory.mktemp("cvae_digits"))
  initial_state = loop.init_state(vae.TASK, opts, sharding.make_mesh())
  initial = vae_evaluation.test_bounds(inference.Run(workdir, config, opts, vae.TASK, initial_state))
  assert main(["train", *SHORT_RUN, "--workdir", workdir]) == 0
  run = inference.load(workdir)
  return types.SimpleNamespace(config=run.config, opts=run.opts, workdir=workdir, run=run, state=run.state,
                               initial=initial, trained=vae_evaluation.test_bounds(run))
