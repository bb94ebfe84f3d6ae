"""Several processes running one command: joining them, and what they must agree on.

A run over several hosts (or several local processes, `superpose run ... --processes N`) is one JAX program
across processes: `jax.devices()` spans them all and the instance axis is sharded over every device
(superpose.train.sharding). Every process runs the same command; each trains its share of every group and
receives the whole result, and only process 0 (`is_writer`) writes result folders, checkpoints and figures,
and shows progress. That asks the processes to agree wherever a decision is made from the file system or the
clock: whether a folder already holds a result, whether a checkpoint is resumed, when one is written. Such
decisions are taken by process 0 and broadcast (`agree`); the others wait for its writes (`barrier`). Output
folders must therefore be on a file system every process sees (a cluster's shared storage).

A process joins a run (`join`) when it is started
  - by `superpose ... --processes N` (superpose.app.launch), or with $SUPERPOSE_COORDINATOR (host:port of
    process 0), $SUPERPOSE_PROCESSES and $SUPERPOSE_PROCESS_ID set by hand or by any launcher;
  - or as one of several tasks of a SLURM step (srun) or an Open MPI job (mpirun): JAX's own cluster
    detection then finds the coordinator, the process count and the process id.
$SUPERPOSE_DISTRIBUTED=0 keeps a process on its own in any environment.
"""

from __future__ import annotations

import hashlib
import os
import sys

import numpy as np

from superpose.validate import ConfigError

COORDINATOR = "SUPERPOSE_COORDINATOR"
PROCESSES = "SUPERPOSE_PROCESSES"
PROCESS_ID = "SUPERPOSE_PROCESS_ID"
JOIN_TIMEOUT_SECONDS = 120
"""How long a process waits for the others to start before it gives up with one line."""


def _cluster_tasks() -> int:
    """How many tasks the launcher of this process started: a SLURM step's (srun) or an Open MPI job's; 1
    outside either. (An sbatch script alone is one task, whatever the allocation holds.)"""
    for variable in ("SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE"):
        value = os.environ.get(variable, "")
        if value.isdigit():
            return int(value)
    return 1


def requested() -> tuple[str | None, int | None, int | None] | None:
    """(coordinator, process count, process id) this process is to join with (None for each that JAX's cluster
    detection finds), or None when it runs alone."""
    if os.environ.get("SUPERPOSE_DISTRIBUTED", "").strip() == "0":
        return None
    if COORDINATOR in os.environ:
        try:
            count, index = int(os.environ[PROCESSES]), int(os.environ[PROCESS_ID])
        except (KeyError, ValueError):
            raise ConfigError(
                f"${COORDINATOR} is set, so ${PROCESSES} and ${PROCESS_ID} must be whole numbers too"
            ) from None
        if not 0 <= index < count:
            raise ConfigError(f"${PROCESS_ID} is {index}; with {count} processes it must be 0 to {count - 1}")
        return os.environ[COORDINATOR], count, index
    if _cluster_tasks() > 1:
        return None, None, None
    return None


def join() -> int:
    """Join the run this process was started for (see the module's docstring), before JAX computes anything;
    the number of processes (1 when it runs alone)."""
    import jax

    wanted = requested()
    if wanted is None:
        return 1
    coordinator, count, index = wanted
    try:
        jax.distributed.initialize(coordinator, count, index, initialization_timeout=JOIN_TIMEOUT_SECONDS)
    except (RuntimeError, ValueError) as e:  # JAX's own errors: no peers, an unparsable environment
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"could not join the other processes ({first})") from None
    return jax.process_count()


def count() -> int:
    """The number of processes in the run (1 alone). Asking neither imports JAX (a process that never did has
    joined nothing: a usage error exits without paying for the import) nor starts its backends."""
    jax = sys.modules.get("jax")
    if jax is None:
        return 1
    return jax.process_count() if jax.distributed.is_initialized() else 1


def is_writer() -> bool:
    """Whether this process writes files and shows progress: process 0 of a run (the only one, alone)."""
    import jax

    return count() == 1 or jax.process_index() == 0


def agree(value: int) -> int:
    """Process 0's `value` (|value| < 2^31: JAX's default integers) on every process (a decision taken from
    its files or its clock)."""
    if count() == 1:
        return int(value)
    from jax.experimental import multihost_utils

    return int(multihost_utils.broadcast_one_to_all(np.int32(value)))


def least(value: int) -> int:
    """The smallest of every process's `value` (|value| < 2^31: JAX's default integers; a limit each process
    measures on its own host)."""
    if count() == 1:
        return int(value)
    from jax.experimental import multihost_utils

    return int(np.min(multihost_utils.process_allgather(np.int32(value))))


def barrier(name: str) -> None:
    """Wait until every process has reached the barrier `name` (e.g. until process 0 has written a folder
    the others read)."""
    if count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def check_same(text: str, what: str) -> None:
    """A ConfigError on every process unless all of them pass the same `text` (a digest is compared); the
    message says which processes differ from process 0 `in {what}`."""
    if count() == 1:
        return
    from jax.experimental import multihost_utils

    digest = np.frombuffer(hashlib.sha256(text.encode()).digest(), np.uint8)
    every = np.asarray(multihost_utils.process_allgather(digest)).reshape(count(), -1)
    differ = [i for i in range(count()) if not np.array_equal(every[i], every[0])]
    if differ:
        many = len(differ) > 1
        raise ConfigError(
            f"process{'es' if many else ''} {', '.join(map(str, differ))} of {count()} "
            f"differ{'' if many else 's'} from process 0 in {what}"
        )
