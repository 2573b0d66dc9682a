import os
import subprocess
import sys


def test_eight_device_step_equals_one_device_step():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
  script = os.path.join(os.path.dirname(__file__), "multidevice_check.py")
  out = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  line = [l for l in out.stdout.splitlines() if l.startswith("MAXDIFF")][-1]
  state_diff, metric_diff = map(float, line.split()[1:])
  # Same math, different reduction order across devices: float tolerance, not bits.
  assert state_diff < 1e-4, state_diff
  assert metric_diff < 1e-4, metric_diff
