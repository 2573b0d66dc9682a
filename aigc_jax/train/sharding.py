"""Data parallelism through `jax.sharding`: one code path from 1 CPU to many hosts.

The mesh has one axis, 'data', over all devices of all processes (each process's
devices one contiguous block: `aigc_jax.distributed`). Train states are
replicated; batches are split along their first axis. jit then inserts the collectives
(for example, BatchNorm statistics over the global batch), so a step on 8 devices
computes what the same step computes on 1.
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def make_mesh(devices=None) -> Mesh:
  """The 1-D 'data' mesh over `devices` (default: every device of every process, each
  process's devices as one contiguous block, so that process p holds rows
  [p * b, (p + 1) * b) of each global batch of b * process_count rows)."""
  from aigc_jax import distributed
  devices = distributed.devices_by_process() if devices is None else devices
  return Mesh(np.asarray(devices), ("data",))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def data_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P("data"))


def check_batch_size(batch_size: int, mesh: Mesh):
  """A one-line error unless the global batch splits evenly over the mesh's devices."""
  from aigc_jax.data.pipeline import check_batch_split
  check_batch_split(batch_size, mesh.size, "devices")


def shard_batch(batch, mesh: Mesh):
  """This process's part of a global batch (a pytree of numpy arrays: its contiguous
  block of rows, see `make_mesh`) -> global jax Arrays sharded over 'data'."""
  sharding = data_sharded(mesh)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), batch)
