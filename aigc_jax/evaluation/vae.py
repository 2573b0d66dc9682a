"""What `aigc eval` reports for a VAE run: likelihood bounds on a test split, then the
generator metrics of prior samples.

The negative ELBO and the importance-weighted bound (IWAE, Burda et al., 2016) with `k`
posterior samples per image are in nats per image of the data as the pipeline delivers
it (the stored uint8 values after resizing to `data.resolution`, or their 0/1
binarization for Bernoulli runs), plus bits per dimension.
"""

import math

import jax
import numpy as np

from aigc_jax import distributed
from aigc_jax.data import pipeline
from aigc_jax.evaluation import run_eval
from aigc_jax.inference import vae as vae_inference
from aigc_jax.train import chunked, keys
from aigc_jax.train import vae


def test_bounds(run, num_samples: int | None = None, split: str | None = None, seed: int = 0) -> dict:
  """Negative ELBO and IWAE NLL over a split, in nats per image (and bits per dimension).

  `num_samples` is the IWAE's K (default `eval.iwae_samples`). Every image of the split
  counts once (the last batch is padded, then the padding dropped).

  Across processes, each process takes a contiguous range of the split's batches
  (`distributed.process_range`) and computes them exactly as one process would (the
  same batch, padding and key, on one of its own devices: `distributed.local_copy`), and the per-image terms are
  gathered in batch order (`distributed.concat_over_processes`): every process then
  averages the very numbers that one process averages. No collective runs until the
  gather, so processes with one batch more or less do not wait for each other.
  """
  opts, state = run.opts, run.state
  k = int(num_samples or opts.eval.iwae_samples)
  split = split or opts.eval.split
  batch_size = opts.eval.batch_size
  progs = vae.programs(opts)
  ds = pipeline.make_dataset(opts.data.config, split, batch_size=batch_size, train=False,
                             process_index=0, process_count=1)
  k_elbo, k_iwae = jax.random.split(keys.stream_key(seed, "bounds"))
  params = distributed.local_copy(state.params)  # Each process runs its batches by itself.
  recon, kl, log_px = [], [], []
  start, stop = distributed.process_range(len(ds))  # (0, len(ds)) when alone.
  for i in range(start, stop):
    batch = ds[i]
    n = len(batch["image"])
    x, labels = chunked.pad_to(batch["image"], batch_size), batch.get("label")
    labels = chunked.pad_to(labels, batch_size) if labels is not None and opts.model.num_classes else None
    r, kl_i = progs.elbo(params, x, labels, jax.random.fold_in(k_elbo, i))
    recon.append(np.asarray(r)[:n])
    kl.append(np.asarray(kl_i)[:n])
    log_px.append(np.asarray(progs.iwae(params, x, labels, jax.random.fold_in(k_iwae, i), k))[:n])
  terms = np.stack([np.concatenate(v) if v else np.zeros(0, np.float32) for v in (recon, kl, log_px)], axis=1)
  terms = distributed.concat_over_processes(terms)  # [images, 3], in the split's order.
  recon, kl, log_px = (terms[:, j].astype(np.float64) for j in range(3))
  dims = opts.data.resolution ** 2 * opts.data.channels
  nelbo, iwae_nll = float(np.mean(recon + kl)), float(-np.mean(log_px))
  return {
      "test_nelbo": nelbo, "test_recon": float(np.mean(recon)), "test_kl": float(np.mean(kl)),
      "test_iwae_nll": iwae_nll, "iwae_samples": k, "test_images": int(len(recon)),
      "test_nelbo_bpd": nelbo / (dims * math.log(2.0)), "test_iwae_bpd": iwae_nll / (dims * math.log(2.0)),
  }


def evaluate(run, *, num_samples=None, seed=0, metrics=None, ref=None, inception_weights=None,
             iwae_samples=None, classifier=None) -> dict:
  """Test bounds (IWAE with `iwae_samples` or `eval.iwae_samples`), then the generator
  metrics of `num_samples` (or `eval.num_samples`) prior samples."""
  result = test_bounds(run, iwae_samples, seed=seed)
  num = num_samples or run.opts.eval.num_samples
  ids = vae_inference.resolve_labels(run.opts, None, num)
  images = vae_inference.sample(run, keys.stream_key(seed, "eval"), num)
  result.update(run_eval.generator_metrics(run.opts.data, images, step=int(run.state.step), metrics=metrics,
                                           ref=ref, inception_weights=inception_weights, labels=ids,
                                           classifier=classifier))
  return result
