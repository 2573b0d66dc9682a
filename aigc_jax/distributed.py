"""Joining a multi-process run: one JAX program as one process per host (or per GPU).

JAX's multi-controller runtime runs the same program in N processes that meet at a
coordinator (`jax.distributed`); after joining, `jax.devices()` lists the devices of
every process and the train loop's mesh spans them all. What a process must be told:

| flag (`aigc train`, `eval`, `stats`) | environment variable | meaning |
|---|---|---|
| `--coordinator HOST:PORT` | `AIGC_COORDINATOR` | where process 0 listens (reachable from every host) |
| `--num-processes N` | `AIGC_NUM_PROCESSES` | how many processes take part |
| `--process-id I` | `AIGC_PROCESS_ID` | this process, 0 <= I < N |
| `--distributed auto` | `AIGC_DISTRIBUTED=auto` | let `jax.distributed.initialize()` find all three (Cloud TPU, SLURM, Open MPI) |
| `--peer-timeout S` | `AIGC_PEER_TIMEOUT` | seconds without a heartbeat before a peer counts as dead (default 60) |

Flags win over the environment. With none of them set, nothing is joined and the
process runs alone, exactly as it would without this module.

A dead peer: a watchdog thread in each process (`_Watchdog`) notices within about the
peer timeout that a process stopped beating; each survivor prints one line naming the
lost process and exits with status 3 (`os._exit`: its main thread may be blocked inside
a collective that will never complete, so raising an exception could not end it). A
process that stops early on an error tells the others first (`exit_together`). If
process 0, the coordinator, dies, JAX's own client aborts the others at once with its
long message, which this jaxlib gives Python no way to prevent; a SIGABRT handler
(`_catch_coordinator_abort`) then adds the one line naming process 0 as the last line
on stderr and exits with status 3 instead of dumping core.

On CPU, collectives across processes go through gloo (set before joining; harmless on
GPU and TPU, whose collectives are NCCL and ICI).
"""

import contextlib
import dataclasses
import os
import re
import sys

from aigc_jax.errors import UserError

ENV_COORDINATOR = "AIGC_COORDINATOR"
ENV_NUM_PROCESSES = "AIGC_NUM_PROCESSES"
ENV_PROCESS_ID = "AIGC_PROCESS_ID"
ENV_MODE = "AIGC_DISTRIBUTED"
ENV_PEER_TIMEOUT = "AIGC_PEER_TIMEOUT"
MODES = ("off", "auto")
DEFAULT_PEER_TIMEOUT = 60
# How long a process waits for all the others to reach the coordinator.
JOIN_TIMEOUT = 300
# The exit status of a process that lost a peer (2 is a user error, 128+ a signal).
LOST_PEER_STATUS = 3


@dataclasses.dataclass(frozen=True)
class Settings:
  """How to join: explicit (coordinator, num_processes, process_id) or `auto`."""
  coordinator: str | None
  num_processes: int | None
  process_id: int | None
  auto: bool
  peer_timeout: int


def _int(value, name: str):
  if value is None or isinstance(value, int):
    return value
  try:
    return int(value)
  except ValueError:
    raise UserError(f"{name} must be an integer, got {value!r}") from None


def settings(coordinator=None, num_processes=None, process_id=None, mode=None, peer_timeout=None,
             environ=None) -> Settings | None:
  """The join settings from flags (given values) and else the environment; None to run
  alone. A half-given set (a coordinator without a process id, say), an id out of range
  or an address without a port is a one-line UserError."""
  env = os.environ if environ is None else environ
  coordinator = coordinator or env.get(ENV_COORDINATOR) or None
  num_processes = _int(num_processes if num_processes is not None else env.get(ENV_NUM_PROCESSES) or None,
                       "--num-processes")
  process_id = _int(process_id if process_id is not None else env.get(ENV_PROCESS_ID) or None, "--process-id")
  mode = mode or env.get(ENV_MODE) or "off"
  peer_timeout = _int(peer_timeout if peer_timeout is not None else env.get(ENV_PEER_TIMEOUT) or None,
                      "--peer-timeout")
  peer_timeout = DEFAULT_PEER_TIMEOUT if peer_timeout is None else peer_timeout
  if mode not in MODES:
    raise UserError(f"--distributed must be one of {', '.join(MODES)}, got {mode!r}")
  if peer_timeout < 1:
    raise UserError(f"--peer-timeout must be at least 1 second, got {peer_timeout}")
  explicit = {"--coordinator": coordinator, "--num-processes": num_processes, "--process-id": process_id}
  given = [k for k, v in explicit.items() if v is not None]
  if mode == "off" and not given:
    return None
  if mode == "off" and len(given) < 3:
    missing = ", ".join(k for k in explicit if k not in given)
    raise UserError(f"a multi-process run needs --coordinator, --num-processes and --process-id (or "
                    f"--distributed auto); missing {missing}")
  if coordinator is not None and not re.fullmatch(r"\[?[^\s\]]+\]?:\d{1,5}", coordinator):
    raise UserError(f"--coordinator must be HOST:PORT, got {coordinator!r}")
  if num_processes is not None and num_processes < 1:
    raise UserError(f"--num-processes must be at least 1, got {num_processes}")
  if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
    raise UserError(f"--process-id must be in 0..{num_processes - 1}, got {process_id}")
  return Settings(coordinator, num_processes, process_id, mode == "auto", peer_timeout)


def _die(message: str, raw: bool = False):
  """Prints the one line and exits with LOST_PEER_STATUS at once. `raw`: straight to
  file descriptor 2 (from a signal handler, where sys.stderr's lock may be held)."""
  line = (f"aigc: error: process {_joined.get('process_id', '?')}: {message}; stopping (a training "
          f"run resumes from its last checkpoint with the same command)\n")
  if raw:
    os.write(2, line.encode())
  else:
    sys.stderr.write(line)
    sys.stderr.flush()
  os._exit(LOST_PEER_STATUS)


class _Watchdog:
  """Each process's heartbeat in the coordinator's key-value store, and the check on it.

  Every `timeout / 10` s each process bumps its counter `aigc_alive/<id>`. Process 0
  watches every counter: one that has not moved for `timeout` s is a dead process,
  which it names under `aigc_lost` before exiting. The others watch `aigc_lost` (and
  exit naming the same process) and the store itself: if it cannot be reached for
  `timeout` s, process 0 (the coordinator) is gone. So every survivor exits within
  about the timeout, with one line. A process that stops on an error says so under
  `aigc_lost` itself (`exit_together`), and the others exit at their next look. JAX's own heartbeat (set longer) would abort
  the process with a stack trace instead; its failure callback cannot be used from
  Python (jaxlib 0.10 raises std::bad_cast converting the status).
  """

  def __init__(self, client, me: int, count: int, timeout: int):
    self.client, self.me, self.count, self.timeout = client, me, count, timeout
    self.stopping = False

  def start(self):
    import atexit
    import threading
    atexit.register(self.stop)  # Runs before JAX's shutdown barrier (atexit is LIFO).
    threading.Thread(target=self._run, name="aigc-watchdog", daemon=True).start()

  def stop(self):
    self.stopping = True
    try:
      self.client.key_value_set(f"aigc_alive/{self.me}", "done", allow_overwrite=True)
    except Exception:  # noqa: BLE001  (the store may be gone already; nothing to tell)
      pass

  @property
  def period(self) -> float:
    return max(0.2, self.timeout / 10)

  def _run(self):
    import time
    period = self.period
    seen, last_ok, beat = {}, time.monotonic(), 0
    while not self.stopping:
      now = time.monotonic()
      try:
        beat += 1
        self.client.key_value_set(f"aigc_alive/{self.me}", str(beat), allow_overwrite=True)
        lost = dict(self.client.key_value_dir_get("aigc_lost")).get("aigc_lost")
        if lost is None and self.me == 0:
          values = dict(self.client.key_value_dir_get("aigc_alive/"))
          for i in range(1, self.count):
            value = values.get(f"aigc_alive/{i}")
            if i not in seen or (value is not None and seen[i][0] != value):
              seen[i] = value, now
          silent = [str(i) for i in range(1, self.count) if seen[i][0] != "done" and now - seen[i][1] > self.timeout]
          if silent:
            lost = f"process {', '.join(silent)} stopped responding for more than {self.timeout} s"
            self.client.key_value_set("aigc_lost", lost, allow_overwrite=True)
        if lost and not self.stopping:
          _die(lost)
        last_ok = now
      except Exception:  # noqa: BLE001  (any failure to reach the store)
        if now - last_ok > self.timeout and not self.stopping:
          _die(f"lost the coordinator (process 0) for more than {self.timeout} s")
      time.sleep(period)

  def tell(self, what: str):
    """Tells the other processes that this one stops (they exit naming it)."""
    try:
      self.client.key_value_set("aigc_lost", f"process {self.me} {what}", allow_overwrite=True)
    except Exception:  # noqa: BLE001
      pass


_joined: dict = {}


def _coordinator_reachable(address: str, timeout: float = 2.0) -> bool:
  """Whether a TCP connection to `address` (HOST:PORT, the coordination service in
  process 0) opens within `timeout` s."""
  import socket
  host, port = address.rsplit(":", 1)
  try:
    socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
  except (OSError, ValueError):
    return False
  return True


def _catch_coordinator_abort(address: str):
  """Turns JAX's abort on losing the coordinator into this module's one line, last.

  When process 0 dies, its coordination service's socket closes; the coordination
  client in every other process sees its error poll fail at once (well before any
  heartbeat timeout) and calls its error callback, whose default logs a fatal error
  (JAX's long "Terminating process because the JAX distributed service detected fatal
  errors" message, with a native stack trace) and calls abort(). Neither can be avoided
  from Python in this jaxlib (0.10): a Python `missed_heartbeat_callback` for
  `get_distributed_runtime_client` is never called (converting the absl::Status for it
  raises std::bad_cast, which aborts as well), and the client has no option to stop
  polling for errors. What can be done is to catch the SIGABRT that follows: this
  handler (a ctypes callback, run on the aborting thread) checks the coordinator's
  port; if it no longer answers, it writes this module's one line after JAX's message
  and exits with status 3 (so the line is the last on stderr). If the coordinator still
  answers, the abort has another cause: the handler returns and abort() proceeds as
  usual. Best effort: where ctypes or libc's `signal` is missing, nothing is installed.
  """
  import ctypes
  import signal
  try:
    libc = ctypes.CDLL(None)
    handler_type = ctypes.CFUNCTYPE(None, ctypes.c_int)
    libc.signal.restype = ctypes.c_void_p
    libc.signal.argtypes = [ctypes.c_int, handler_type]
  except (OSError, AttributeError):
    return

  def on_abort(signum):
    try:
      if not _coordinator_reachable(address):
        _die(f"lost the coordinator (process 0): {address} no longer answers", raw=True)
    except BaseException:  # noqa: BLE001  (nothing may escape into native code)
      pass

  _joined["abort_handler"] = handler = handler_type(on_abort)  # Kept alive: libc holds its address.
  libc.signal(signal.SIGABRT, handler)


def _keep_stdout_for_python():
  """Sends what native code writes to stdout (gloo announces every connection there) to
  stderr, and keeps the real stdout for Python's `print`: `aigc eval`'s stdout stays one
  JSON object."""
  sys.stdout.flush()
  original = os.dup(1)
  os.dup2(2, 1)
  sys.stdout = os.fdopen(original, "w", buffering=1)


def initialize(s: Settings | None):
  """Joins the run that `s` describes (nothing when `s` is None); call before anything
  else touches JAX's devices. Returns (process_index, process_count)."""
  import jax
  if s is None:
    return 0, 1
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  _keep_stdout_for_python()
  _joined.update(process_id=s.process_id)
  try:
    # JAX's own heartbeat is the backstop, later than the watchdog's (see `_Watchdog`).
    jax.distributed.initialize(
        coordinator_address=s.coordinator, num_processes=s.num_processes, process_id=s.process_id,
        initialization_timeout=JOIN_TIMEOUT, heartbeat_timeout_seconds=3 * s.peer_timeout + 30)
  except (RuntimeError, ValueError) as e:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise UserError(f"could not join the multi-process run at {s.coordinator or 'the detected coordinator'}: "
                    f"{first[:300]}") from None
  from jax._src import distributed as jax_distributed
  _joined["process_id"] = jax.process_index()
  if jax.process_index() != 0:
    _catch_coordinator_abort(s.coordinator or jax_distributed.global_state.coordinator_address)
  _joined["watchdog"] = _Watchdog(jax_distributed.global_state.client, jax.process_index(), jax.process_count(),
                                  s.peer_timeout)
  _joined["watchdog"].start()
  return jax.process_index(), jax.process_count()


# The status codes that begin the message of an error raised by XLA's runtime.
_RUNTIME_STATUSES = ("UNKNOWN", "INTERNAL", "UNAVAILABLE", "ABORTED", "DEADLINE_EXCEEDED", "CANCELLED",
                     "FAILED_PRECONDITION")


def _runtime_failure(e: BaseException) -> bool:
  """Whether `e` is XLA's runtime failing (a collective whose peer is gone, say): a
  JaxRuntimeError, or the ValueError that a failed gloo collective surfaces as in
  `multihost_utils.process_allgather` ("UNKNOWN: Gloo AllGather failed: ...")."""
  import jax
  if isinstance(e, jax.errors.JaxRuntimeError):
    return True
  return isinstance(e, ValueError) and str(e).split(":", 1)[0] in _RUNTIME_STATUSES


@contextlib.contextmanager
def exit_together(command: str):
  """Around a command's work: alone, nothing. Across processes, a process that stops
  early (a user error, a bug, a signal) must not wait for the others at JAX's shutdown
  barrier while they wait for it in a collective: it prints its message as `aigc` would,
  tells the others (who exit naming it) unless all stop together on a signal, and exits
  at once with `aigc`'s status (2 user error, 1 bug, 128 + signal)."""
  watchdog = _joined.get("watchdog")
  if watchdog is None:
    yield
    return
  from aigc_jax.errors import Interrupted
  try:
    yield
  except Interrupted as e:
    status, line, what = 128 + e.signum, f"aigc {command}: {e}", None
  except UserError as e:
    status, line, what = 2, f"aigc {command}: error: {e}", f"stopped with an error: {e}"
  except KeyboardInterrupt:
    status, line, what = 130, f"aigc {command}: interrupted", "was interrupted"
  except Exception as e:  # noqa: BLE001  (a bug: keep its traceback)
    if _runtime_failure(e):
      # A collective failed, most likely because a peer died (gloo sees the closed socket
      # first): give the watchdog the time to name it (it exits with one line).
      import time
      time.sleep(watchdog.timeout + 3 * watchdog.period)
    import traceback
    traceback.print_exc()
    status, line, what = 1, "", f"failed with {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
  else:
    return
  watchdog.stopping = True  # Before telling: its own thread must not take the news for a peer's.
  if what:
    watchdog.tell(what)
    if watchdog.me == 0:  # The coordinator's exit would abort the others: let them read the news first.
      import time
      time.sleep(2 * watchdog.period + 1)
  watchdog.stop()
  if line:
    sys.stderr.write(line + "\n")
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(status)


def is_multiprocess() -> bool:
  import jax
  return jax.process_count() > 1


def is_main() -> bool:
  """Whether this process writes files and prints results (process 0)."""
  import jax
  return jax.process_index() == 0


def agree(flag: bool) -> bool:
  """True on every process if `flag` is true on any (one small collective; a plain bool
  when alone). What keeps processes in step when only some of them saw an event, a
  signal say."""
  import jax
  if jax.process_count() == 1:
    return bool(flag)
  import numpy as np
  from jax.experimental import multihost_utils
  return bool(np.any(multihost_utils.process_allgather(np.asarray([bool(flag)]))))


def broadcast_error(message: str | None):
  """Raises UserError(message) on every process if process 0 has a message (checks that
  only process 0 makes, such as taking the workdir's lock); a no-op when alone."""
  import jax
  if jax.process_count() == 1:
    if message:
      raise UserError(message)
    return
  import numpy as np
  from jax.experimental import multihost_utils
  data = np.zeros(512, np.uint8)
  if message:
    raw = message.encode()[:512]
    data[:len(raw)] = np.frombuffer(raw, np.uint8)
  data = np.asarray(multihost_utils.broadcast_one_to_all(data))
  text = bytes(data).rstrip(b"\0").decode(errors="replace")
  if text:
    raise UserError(text if jax.process_index() == 0 else f"process 0: {text}")


def sum_over_processes(array):
  """The sum over processes of a host numpy array (any shape and dtype, float64 kept
  exact in transit: JAX would narrow it to float32), added in process order, so every
  process gets the same bits; the array itself when alone. The processes first meet at a
  barrier (`sync`): they may arrive minutes apart after unequal shares of work."""
  import jax
  import numpy as np
  array = np.ascontiguousarray(array)
  if jax.process_count() == 1:
    return array
  from jax.experimental import multihost_utils
  sync("sum_over_processes")
  raw = array.reshape(-1).view(np.uint8)
  gathered = np.asarray(multihost_utils.process_allgather(raw))  # [processes, bytes]
  parts = [np.frombuffer(row.tobytes(), array.dtype).reshape(array.shape) for row in gathered]
  total = parts[0].copy()
  for part in parts[1:]:
    total += part
  return total


def concat_over_processes(array):
  """The concatenation along the first axis, in process order, of every process's host
  array [n_p, ...] (the n_p may differ, 0 included; the other dimensions and the dtype
  must agree), bit for bit (sent as bytes), on every process; the array itself when
  alone. Like `sum_over_processes`, it meets the others at a barrier first. What brings
  the per-example results of `process_range` shares back together."""
  import jax
  import numpy as np
  array = np.ascontiguousarray(array)
  if jax.process_count() == 1:
    return array
  from jax.experimental import multihost_utils
  sync("concat_over_processes")
  counts = np.asarray(multihost_utils.process_allgather(np.asarray([len(array)], np.int64))).reshape(-1)
  row = array[:1].nbytes if len(array) else int(np.prod(array.shape[1:], dtype=np.int64)) * array.dtype.itemsize
  longest = int(counts.max())
  raw = np.zeros(max(1, longest * row), np.uint8)  # Padded to the longest share: one shape for all.
  raw[:array.nbytes] = array.reshape(-1).view(np.uint8)
  gathered = np.asarray(multihost_utils.process_allgather(raw))  # [processes, bytes]
  parts = [np.frombuffer(gathered[p, :int(n) * row].tobytes(), array.dtype).reshape(int(n), *array.shape[1:])
           for p, n in enumerate(counts)]
  return np.concatenate(parts)


def local_copy(tree):
  """`tree` with each replicated global array (a train state restored on the mesh of
  every process's devices) replaced by its copy on one of this process's devices, so
  that a program on it runs in this process alone, in no step with the others; the tree
  itself when alone."""
  import jax
  if jax.process_count() == 1:
    return tree

  def local(x):
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
      return x
    if not x.sharding.is_fully_replicated:
      raise ValueError(f"local_copy needs replicated arrays, got one sharded as {x.sharding}")
    return x.addressable_data(0)
  return jax.tree.map(local, tree)


def process_range(count: int) -> tuple[int, int]:
  """This process's contiguous share [start, stop) of `count` items (the first
  `count % processes` processes take one more)."""
  import jax
  pcount, pindex = jax.process_count(), jax.process_index()
  base, extra = divmod(count, pcount)
  start = pindex * base + min(pindex, extra)
  return start, start + base + (pindex < extra)


_barriers: dict = {}


def sync(name: str):
  """Waits until every process has reached `sync(name)` (a no-op when alone), for up to
  `JOIN_TIMEOUT` s. A barrier of the coordination service, not a collective: gloo gives
  up on a peer after 30 s, and under load one process may finish compiling a program
  minutes before another, so a program with collectives is compiled, then `sync`ed, and
  only then run (`compile_then_sync`)."""
  import jax
  if jax.process_count() == 1:
    return
  from jax._src import distributed as jax_distributed
  _barriers[name] = _barriers.get(name, 0) + 1  # Every process counts the same calls.
  jax_distributed.global_state.client.wait_at_barrier(f"aigc/{name}/{_barriers[name]}", JOIN_TIMEOUT * 1000)


def compile_then_sync(fn, *args, name: str):
  """`fn` compiled for `args` (ahead of time), after every process has compiled it: what
  to call in place of a jitted `fn` with collectives across processes. Alone, `fn`
  itself (jit compiles it at the first call, as it always has)."""
  import jax
  if jax.process_count() == 1:
    return fn
  compiled = (fn if hasattr(fn, "lower") else jax.jit(fn)).lower(*args).compile()
  sync(name)
  return compiled


def devices_by_process():
  """All devices, those of process 0 first, then process 1's, ...: the order in which a
  1-D mesh gives each process one contiguous block of rows of a global batch (what
  `jax.make_array_from_process_local_data` needs, and what the data pipeline reads).
  Within a process the order is `jax.devices()`'s (a stable sort), so alone this is
  `jax.devices()` itself."""
  import jax
  return sorted(jax.devices(), key=lambda d: d.process_index)


def _whole(x):
  """The global value of an output, as numpy, on every process."""
  import jax
  import numpy as np
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    from jax.experimental import multihost_utils
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))  # A global array: its whole value.
  return np.asarray(x)


def chunked_apply(fn, *arrays, chunk: int):
  """`train.chunked.chunked_apply` across processes: the same result on every process,
  each process computing its share.

  Chunks of `chunk` examples (rounded up to a multiple of the global device count) are
  made global arrays split over all devices; every process passes its rows of each
  chunk (the inputs are the same on every process), runs `fn` on the global chunk, and
  the outputs are gathered back to every process. The last chunk is padded with its last
  example and the padding dropped, so every process runs the same programs the same
  number of times and no example is dropped or counted twice. `fn` must treat examples
  independently (every inference path here does).
  """
  import jax
  import numpy as np
  from jax.sharding import Mesh, NamedSharding, PartitionSpec
  mesh = Mesh(np.asarray(devices_by_process()), ("data",))
  pcount, pindex = jax.process_count(), jax.process_index()
  n = len(next(a for a in arrays if a is not None))
  chunk = max(1, min(chunk, n))
  chunk = -(-chunk // mesh.size) * mesh.size
  rows = chunk // pcount
  data = NamedSharding(mesh, PartitionSpec("data"))

  def part(a, i):
    a = np.asarray(a[i:i + chunk])
    pad = np.concatenate([a, np.repeat(a[-1:], chunk - len(a), axis=0)]) if len(a) < chunk else a
    return jax.make_array_from_process_local_data(data, pad[pindex * rows:(pindex + 1) * rows])

  outs, program = [], None
  for i in range(0, n, chunk):
    parts = [None if a is None else part(a, i) for a in arrays]
    if program is None:
      program = compile_then_sync(lambda *xs: fn(*xs), *parts, name="chunked_apply")
    out = program(*parts)
    keep = min(chunk, n - i)
    outs.append(jax.tree.map(lambda x: _whole(x)[:keep], out))
  return jax.tree.map(lambda *xs: np.concatenate(xs), *outs)
