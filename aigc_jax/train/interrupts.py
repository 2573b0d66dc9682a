"""Stopping a training run on a signal: save once, exit non-zero, never hang.

SIGINT (Ctrl-C) and SIGTERM (what TPU and cloud preemption and Kubernetes send) both
ask the loop to stop at the next step boundary; the loop then saves a checkpoint and
raises `Interrupted`, which the command line turns into one line and exit status
128 + the signal's number (130, 143), so `aigc train && aigc eval` does not go on to
evaluate an unfinished run. A second signal exits at once (status 128 + signum) without
waiting for anything: orbax writes each checkpoint to a temporary folder and renames it
when complete, so what was saved before stays intact.
"""

import os
import signal
import sys

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
  """A context manager that turns the first SIGINT/SIGTERM into `requested`."""

  def __init__(self):
    self.signum = None
    self._previous = {}

  @property
  def requested(self) -> bool:
    return self.signum is not None

  def __enter__(self):
    def handler(signum, frame):
      if self.signum is not None:  # The second signal: leave now.
        sys.stderr.write(f"\naigc: second {signal.Signals(signum).name}, exiting without a final save\n")
        sys.stderr.flush()
        os._exit(128 + signum)
      self.signum = signum
    for s in SIGNALS:
      try:
        self._previous[s] = signal.signal(s, handler)
      except ValueError:  # Not the main thread: leave signals as they are.
        pass
    return self

  def __exit__(self, *exc):
    for s, previous in self._previous.items():
      signal.signal(s, previous)
    self._previous = {}
