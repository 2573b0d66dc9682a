"""Datasets and input pipelines.

Convention for the whole library: images are NHWC. At the edges (files, datasets,
metrics) they are uint8 in [0, 255]; inside models and train steps they are float32 in
[-1, 1]. `to_model_range` and `to_uint8` convert between the two.
"""

from aigc_jax.data.pipeline import (
    DatasetInfo, builder_for, check_batch_split, dataset_info, get_builder, label_names,
    load_images, make_dataset, to_model_range, to_uint8, train_batches, validate)

__all__ = [
    "DatasetInfo", "builder_for", "check_batch_split", "dataset_info", "get_builder",
    "label_names", "load_images", "make_dataset", "to_model_range", "to_uint8",
    "train_batches", "validate",
]
