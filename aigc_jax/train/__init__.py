"""Training: the task registry, pure train steps, the generic loop, checkpoints, logs."""
