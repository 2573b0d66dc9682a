"""The flags that join a multi-process run, shared by `aigc train`, `eval` and `stats`.

They only parse; `aigc_jax.distributed` does the joining (and documents the flags and
their environment variables).
"""

from aigc_jax import distributed


def add_flags(parser) -> None:
  group = parser.add_argument_group(
      "multi-process", "join a run of several processes (one per host); see docs/distributed.md. "
      f"Unset flags fall back to ${distributed.ENV_COORDINATOR}, ${distributed.ENV_NUM_PROCESSES}, "
      f"${distributed.ENV_PROCESS_ID}, ${distributed.ENV_MODE}, ${distributed.ENV_PEER_TIMEOUT}")
  group.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                     help="address of process 0, reachable from every process")
  group.add_argument("--num-processes", type=int, default=None, metavar="N", help="number of processes")
  group.add_argument("--process-id", type=int, default=None, metavar="I", help="this process, 0..N-1")
  group.add_argument("--distributed", default=None, choices=distributed.MODES,
                     help="auto: let jax.distributed.initialize() detect Cloud TPU, SLURM or Open MPI")
  group.add_argument("--peer-timeout", type=int, default=None, metavar="S",
                     help=f"seconds before a silent peer counts as dead (default {distributed.DEFAULT_PEER_TIMEOUT})")


def join(args):
  """Joins the run the flags (or the environment) describe; alone if none is set."""
  return distributed.initialize(distributed.settings(
      coordinator=args.coordinator, num_processes=args.num_processes, process_id=args.process_id,
      mode=args.distributed, peer_timeout=args.peer_timeout))
