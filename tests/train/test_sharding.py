import os
import subprocess
import sys


def test_eight_device_step_equals_one_device_step():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
  script = os.path.join(os.path.dirname(__file__), "multidevice_check.py")
  out = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, timeout=600)
  assert out.returncode == 0, out.stderr[-3000:]
  lines = [l.split() for l in out.stdout.splitlines() if l.startswith("MAXDIFF")]
  assert [l[1] for l in lines] == ["dcgan_digits:smoke", "inpaint_digits:smoke"], out.stdout
  for _, name, state_diff, metric_diff in lines:
    # Same math, different reduction order across devices: float tolerance, not bits.
    assert float(state_diff) < 1e-4, (name, state_diff)
    assert float(metric_diff) < 1e-4, (name, metric_diff)
