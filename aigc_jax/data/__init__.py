"""Datasets and input pipelines.

Convention for the whole library: images are NHWC. At the edges (files, datasets,
metrics) they are uint8 in [0, 255]; inside models and train steps they are float32 in
[-1, 1]. `to_model_range` and `to_uint8` convert between the two.

The names below are imported on first use: the worker processes that prepare an image
folder (`aigc_jax.data.folder`) import this package, and need neither JAX nor grain.
"""

import importlib

__all__ = [
    "DatasetInfo", "builder_for", "check_batch_split", "dataset_info", "get_builder",
    "label_names", "load_images", "make_dataset", "to_model_range", "to_uint8",
    "train_batches", "validate",
]


def __getattr__(name):
  if name in __all__:
    return getattr(importlib.import_module("aigc_jax.data.pipeline"), name)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
