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
  # The diffusion sampler (sharded over the devices) on 10 samples, 8 devices: each sample
  # depends on its own key alone, so the 10 equal the first 10 of 16 from the same keys.
  diffusion = [l.split()[1:] for l in out.stdout.splitlines() if l.startswith("DIFFUSION")]
  assert len(diffusion) == 1, out.stdout
  count, diff, spread = map(int, diffusion[0])
  assert count == 10 and spread > 10, diffusion
  assert diff <= 1, diffusion  # uint8 rounding of float reduction-order differences at most.
