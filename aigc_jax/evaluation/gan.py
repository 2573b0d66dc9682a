"""What `aigc eval` reports for a GAN run: the generator metrics of its samples."""

import jax

from aigc_jax.evaluation import run_eval
from aigc_jax.inference import gan as gan_inference
from aigc_jax.train import gan, keys


def evaluate(run, *, num_samples=None, seed=0, metrics=None, ref=None, inception_weights=None,
             classifier=None) -> dict:
  """Metrics of `num_samples` (2000) generated images; class runs generate every class
  equally often and pass the requested labels on, for `conditional_accuracy` on digits."""
  opts = run.opts
  num = num_samples or 2000
  key = keys.stream_key(seed, "eval")
  labels = None
  if opts.model.conditioning == "class":
    labels = gan_inference.balanced_labels(num, opts.model.cond_dim)
    z = jax.random.normal(key, (num, opts.model.latent_dim))
    images = gan.generate_from_latents(opts, run.state, z, jax.nn.one_hot(labels, opts.model.cond_dim))
  else:
    images = gan_inference.sample(run, key, num)
  return run_eval.generator_metrics(opts.data, images, step=int(run.state.step), metrics=metrics, ref=ref,
                                    inception_weights=inception_weights, labels=labels, classifier=classifier)
