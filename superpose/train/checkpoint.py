"""Mid-run checkpoints of one training program, so that a killed run resumes where it stopped.

A checkpoint is one `.npz` file: the program's state (parameters, Adam moments,
PRNG key data) at the end of a chunk, the step, the host-side history (losses,
divergence, snapshots) and a fingerprint of the instances' configs (and, for SAEs,
of the data source). It is written under a temporary name and renamed into place, so a kill leaves either the
previous checkpoint or the new one, never half of one. Resuming runs the same compiled chunks from the same
step with the same keys, so the result is bit-identical to an uninterrupted run.

Plain npz rather than orbax-checkpoint: the state is a few small arrays per
instance, one file per program; npz needs no extra dependency, is readable
with numpy alone, and `os.replace` makes it atomic. Orbax's asynchronous,
sharded, multi-host saving pays off for large models, not for this.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from superpose.train import processes
from superpose.train.sharding import to_host
from superpose.validate import env_number


def beside(folder: Path) -> Path:
    """Where the program that writes result folder `folder` keeps its checkpoint: `.NAME.checkpoint.npz`."""
    return folder.with_name(f".{folder.name}.checkpoint.npz")


def every_seconds() -> float:
    """Minimum wall time between two checkpoints of a program ($SUPERPOSE_CHECKPOINT_SECONDS; 0: every
    chunk)."""
    return env_number("SUPERPOSE_CHECKPOINT_SECONDS", 30.0)


def fingerprint(configs: list[dict[str, Any]], arrays: Sequence[Any] = ()) -> str:
    """What a checkpoint was written for: the configs, any input arrays, and the JAX version."""
    text = json.dumps({"configs": configs, "jax": jax.__version__}, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode())
    for array in arrays:
        digest.update(np.ascontiguousarray(np.asarray(array)).tobytes())
    return digest.hexdigest()


def _is_key(leaf) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def save(path: Path, *, fingerprint: str, step: int, state, history: dict[str, np.ndarray]) -> None:
    leaves = jax.tree.leaves(state)
    arrays = {
        f"state_{i}": to_host(jax.random.key_data(leaf) if _is_key(leaf) else leaf)
        for i, leaf in enumerate(leaves)
    }
    if not processes.is_writer():
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_temporaries(path)  # left by a run killed while saving
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(
            tmp,
            fingerprint=np.asarray(fingerprint),
            step=np.asarray(step),
            **arrays,
            **{f"history_{k}": v for k, v in history.items()},
        )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path, *, fingerprint: str, like_state) -> tuple[int, Any, dict[str, np.ndarray]] | None:
    """(step, state, history) from `path`, or None when there is no usable checkpoint (missing, unreadable,
    or written for other configs: then it is ignored and later overwritten)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["fingerprint"]) != fingerprint:
                return None
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError, KeyError, EOFError):
        return None
    leaves, treedef = jax.tree.flatten(like_state)
    restored = []
    for i, like in enumerate(leaves):
        value = jax.device_put(data[f"state_{i}"], like.sharding)  # from numpy: works across processes
        if _is_key(like):
            value = jax.random.wrap_key_data(value, impl=jax.random.key_impl(like))
        restored.append(value)
    history = {k.removeprefix("history_"): v for k, v in data.items() if k.startswith("history_")}
    return int(data["step"]), jax.tree.unflatten(treedef, restored), history


def _remove_temporaries(path: Path) -> None:
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        stale.unlink(missing_ok=True)


def remove(path: Path) -> None:
    """Delete a program's checkpoint, its pieces' checkpoints (`path.k`) and any temporary files."""
    if not processes.is_writer():
        return
    path = Path(path)
    for piece in [path, *path.parent.glob(f"{path.name}.*")]:
        _remove_temporaries(piece)
        piece.unlink(missing_ok=True)
