"""Sharding the instance axis of a sweep over every device (and host).

A sweep's instances are independent, so the instance axis is split over a
1-D `Mesh` of all devices: XLA runs each device's share of the compiled
program with no communication. On several hosts, call
`jax.distributed.initialize()` first (see README): `jax.devices()` then spans
every process and the same code shards over all of them.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "instances"


def instance_sharding() -> NamedSharding | None:
    """Shards a leading instance axis over all devices; None on a single device."""
    if jax.device_count() == 1:
        return None
    return NamedSharding(Mesh(np.asarray(jax.devices()), (AXIS,)), PartitionSpec(AXIS))


def padded_size(n_instances: int, sharding: NamedSharding | None) -> int:
    """Instances are padded to a multiple of the device count so every device gets an equal share."""
    if sharding is None:
        return n_instances
    n_dev = sharding.mesh.size
    return -(-n_instances // n_dev) * n_dev


def to_host(x: jax.Array) -> np.ndarray:
    """Gather a (possibly multi-host) sharded array to a numpy array on every host."""
    if jax.process_count() > 1:
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)
