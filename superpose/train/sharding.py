"""Sharding the instance axis of a sweep over every device (and host).

A sweep's instances are independent, so the instance axis is split over a
1-D `Mesh` of all devices: XLA runs each device's share of the compiled
program with no communication. On several hosts, call
`jax.distributed.initialize()` first (see README): `jax.devices()` then spans
every process and the same code shards over all of them.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "instances"


def use_every_cpu_core() -> None:
    """One JAX CPU device per core, so that the CPU backend shards sweeps over the cores like GPUs.

    XLA spreads little of the blocked toy-model step (superpose.train.trainer) over threads; two devices
    on two cores made the 40 x 40 phase grid 1.2x to 1.9x faster (benchmarks/README.md). Called by the command
    line before JAX starts. A no-op once JAX has run, or when $JAX_NUM_CPU_DEVICES or $XLA_FLAGS
    already set the count.
    """
    if "JAX_NUM_CPU_DEVICES" in os.environ or "device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    try:
        jax.config.update("jax_num_cpu_devices", os.cpu_count() or 1)
    except RuntimeError:  # the backends are already up
        pass


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
