"""Where training writes what it measures: `metrics.jsonl` and TensorBoard event files.

`metrics.jsonl` holds one JSON object per logged step with `step` and the scalars; it
never contains wall-clock figures, so two runs with the same seed write identical files.
TensorBoard files (tensorboardX, no TensorFlow needed) hold the same scalars and the
sample grids, so `tensorboard --logdir WORKDIR` works as users expect.
"""

import json
import os
import sys

import numpy as np

from aigc_jax.errors import UserError


class MetricWriter:
  """Appends scalars to metrics.jsonl and TensorBoard; only process 0 writes."""

  def __init__(self, workdir: str, resume_step: int, enabled: bool = True):
    self.enabled = enabled
    self.path = os.path.join(workdir, "metrics.jsonl")
    self._tb = None
    if not enabled:
      return
    truncate_metrics(self.path, resume_step)
    self._tb = _summary_writer(workdir)

  def write_scalars(self, step: int, scalars: dict):
    if not self.enabled:
      return
    record = {"step": int(step)}
    record.update({k: _to_python(v) for k, v in sorted(scalars.items())})
    try:
      with open(self.path, "a") as f:
        f.write(json.dumps(record) + "\n")
    except OSError as e:
      raise UserError(f"cannot write {self.path}: {e.strerror or e}") from e
    for k, v in record.items():
      if k != "step":
        self._tb.add_scalar(k, v, int(step))

  def write_image(self, step: int, name: str, image_uint8: np.ndarray):
    if self.enabled:
      self._tb.add_image(name, np.asarray(image_uint8), int(step), dataformats="HWC")

  def flush(self):
    if self._tb is not None:
      self._tb.flush()

  def close(self):
    if self._tb is not None:
      self._tb.close()


def _to_python(v):
  v = np.asarray(v)
  return v.item() if v.ndim == 0 else v.tolist()


def _summary_writer(logdir: str):
  """tensorboardX's SummaryWriter for `logdir`, imported without torch.

  tensorboardX's module tries `import torch` only to accept torch tensors as values;
  where torch is installed (the test and benchmark environments) that import costs
  seconds in every training process, and this library passes numpy arrays only. So
  `import torch` fails inside tensorboardX's import unless torch is already loaded.
  """
  block = "torch" not in sys.modules
  if block:
    sys.modules["torch"] = None  # Makes `import torch` raise ImportError.
  try:
    from tensorboardX import SummaryWriter
  finally:
    if block:
      del sys.modules["torch"]
  return SummaryWriter(logdir)


def truncate_metrics(path: str, keep_up_to_step: int):
  """Drops records past `keep_up_to_step` (left by a run that stopped after its last
  checkpoint), so a resumed run continues the log exactly where its state continues.

  A line that is not a whole JSON record (what a crash in the middle of a write leaves)
  is dropped with a warning naming it.
  """
  if not os.path.exists(path):
    return
  with open(path) as f:
    lines = [line for line in f if line.strip()]
  kept = []
  for number, line in enumerate(lines, 1):
    try:
      record = json.loads(line)
    except json.JSONDecodeError:
      print(f"warning: {path} line {number} is not a whole record (a write was cut short); dropped it",
            file=sys.stderr)
      continue
    if record["step"] <= keep_up_to_step:
      kept.append(line if line.endswith("\n") else line + "\n")
  if kept != lines:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
      f.writelines(kept)
    os.replace(tmp, path)


def read_metrics(workdir: str) -> list[dict]:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f if line.strip()]
