"""A training workdir: checked before anything is written, locked while a trainer runs.

- `prepare(workdir)`: creates it and proves it writable; `checkpoints` must be a folder.
- `Lock(workdir)`: an exclusive `flock` on `workdir/.lock` holding the trainer's PID, so
  a second trainer on the same workdir is refused at once, naming the holder. The
  kernel drops the lock when its process dies (even by kill -9), so a lock left by a
  dead process is simply taken over.
- `check_resume(saved, config, workdir)`: whether a resumed run may train with `config`.
  A resume without `--config` trains with the run's own `config.json` (plus overrides);
  a given config whose `STRUCTURAL` settings (model, data, ...) differ from the run's is
  a one-line error naming the keys; other differences (run length, learning rates,
  logging, the sampler) are applied with a warning naming them.
"""

import fcntl
import json
import os
import sys

from aigc_jax.errors import UserError

# Config keys (dotted prefixes) that fix what a run is: a resume may not change them.
STRUCTURAL = ("task", "model", "data", "likelihood", "mode", "pool_size", "ema_decay", "compute_dtype",
              "edm.objective")


def prepare(workdir: str):
  """Creates `workdir` and checks that it is writable, with a one-line error if not."""
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, f".write_test_{os.getpid()}")
    with open(probe, "w") as f:
      f.write("ok")
    os.remove(probe)
  except OSError as e:
    raise UserError(f"cannot write to workdir {workdir!r}: {e.strerror or e}") from e
  checkpoints = os.path.join(workdir, "checkpoints")
  if os.path.exists(checkpoints) and not os.path.isdir(checkpoints):
    raise UserError(f"{checkpoints} is a file, not a folder of checkpoints; move it away or use another --workdir")


class Lock:
  """The exclusive lock of a workdir for one trainer (a context manager)."""

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, ".lock")
    self._fd = None

  def __enter__(self):
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
      os.close(fd)
      raise UserError(f"{os.path.dirname(self.path)!r} is in use by another trainer (PID {holder}); "
                      f"wait for it to finish or use another --workdir") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    self._fd = fd
    return self

  def __exit__(self, *exc):
    if self._fd is not None:
      os.close(self._fd)  # Releases the flock; the file stays, harmlessly.
      self._fd = None


def save_config(config, workdir: str):
  """Writes `workdir/config.json` atomically."""
  path = os.path.join(workdir, "config.json")
  tmp = path + ".tmp"
  try:
    with open(tmp, "w") as f:
      f.write(config.to_json_best_effort(indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
  except OSError as e:
    raise UserError(f"cannot write {path}: {e.strerror or e}") from e


def _flatten(tree, prefix=""):
  out = {}
  for k, v in tree.items():
    key = f"{prefix}{k}"
    if isinstance(v, dict):
      out.update(_flatten(v, key + "."))
    else:
      out[key] = list(v) if isinstance(v, tuple) else v
  return out


def config_differences(saved, config) -> dict[str, tuple]:
  """{dotted key: (saved value, new value)} for every key whose value differs."""
  a = _flatten(json.loads(saved.to_json_best_effort()))
  b = _flatten(json.loads(config.to_json_best_effort()))
  return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def is_structural(key: str) -> bool:
  return any(key == p or key.startswith(p + ".") for p in STRUCTURAL)


def check_resume(saved, config, workdir: str, warn: bool = True):
  """Refuses a config that changes what the run is; warns about what else it changes
  (if `warn`: one process of several says it)."""
  if saved.get("task") != config.get("task"):
    raise UserError(f"{workdir!r} holds a {saved.get('task')!r} run, and this config is a {config.get('task')!r} "
                    f"one; resume without --config, or start a new --workdir")
  diffs = config_differences(saved, config)
  structural = [k for k in diffs if is_structural(k)]
  if structural:
    shown = ", ".join(f"{k} ({diffs[k][0]!r} -> {diffs[k][1]!r})" for k in structural[:4])
    more = f" and {len(structural) - 4} more" if len(structural) > 4 else ""
    raise UserError(f"{workdir!r} holds a run whose settings differ from this config: {shown}{more}; "
                    f"resume without --config, or start a new --workdir")
  if diffs and warn:
    print(f"warning: resuming {workdir} with changed settings: "
          + ", ".join(f"{k} {v[0]!r} -> {v[1]!r}" for k, v in diffs.items()), file=sys.stderr)
