"""What `aigc eval` reports for a diffusion run: the generator metrics of its samples at
a chosen number of sampler steps (`--steps`) and, for class-conditional runs, guidance
scale (`--guidance`, default the config's, 1 in the shipped configs)."""

from aigc_jax.evaluation import run_eval
from aigc_jax.inference import diffusion as diffusion_inference
from aigc_jax.train import diffusion, edm, keys


def evaluate(run, *, num_samples=None, seed=0, metrics=None, ref=None, inception_weights=None, classifier=None,
             steps=None, guidance=None) -> dict:
  """Metrics of `num_samples` (`eval.num_samples`) samples; class runs sample every class
  equally often and pass the requested labels on (`conditional_accuracy` on digits).
  `classifier`: an evaluator of `evaluation.classifier` for the run's own dataset.
  The result also names the sampler: `steps`, `nfe` (network evaluations per sample
  and guidance branch) and, for class runs, `guidance`."""
  opts = run.opts
  num = num_samples or opts.eval.num_samples
  steps, guidance, method = diffusion.sampler_settings(opts, steps, guidance)
  labels = diffusion_inference.class_ids(opts, None, num)
  images = diffusion.generate(opts, run.state, keys.stream_key(seed, "eval"), num, labels, steps=steps,
                              guidance=guidance, method=method)
  result = run_eval.generator_metrics(opts.data, images, step=int(run.state.step), metrics=metrics, ref=ref,
                                      inception_weights=inception_weights, labels=labels, classifier=classifier)
  result.update(steps=steps, nfe=edm.network_evaluations(steps, method), sampler=method)
  if guidance is not None:
    result["guidance"] = guidance
  return result
