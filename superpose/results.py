"""Result folders: what a run leaves on disk, readable without superpose.

Every folder holds
  config.json   the schema version, the SHA-256 of arrays.npz, the folder's `kind`, the job that made it
                (under the kind's `job_key`), what else the kind records, and the environment
                (versions, git commit, device, XLA flags);
  arrays.npz    the trained arrays, instance axis first;
  summary.json  per-instance metrics, final loss, divergence.
Each kind (a toy-model sweep's shape group, an SAE group, targets, decompositions) is a `Run` subclass that
names itself (`class SAEGroup(Run, kind="sae_group", job_key="job")`) and documents its own keys; `load`
returns a folder as its kind's class. `run_or_load` is the one way a folder comes to be: train, evaluate,
save, or load when the folder already holds the same job. The folder is written under a temporary name and
renamed into place, so a reader never sees a half-written result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from superpose.registry import Registry
from superpose.validate import ResultError

SCHEMA_VERSION = 2
"""2: config.json carries `arrays_sha256`, checked on every load."""
FILES = ("config.json", "arrays.npz", "summary.json")


KINDS = Registry("result kind", required=())
"""Every kind of result folder, by the name its config.json records."""


@dataclasses.dataclass(frozen=True)
class Run:
    """A result folder as read back. A subclass that passes `kind` registers itself in `KINDS`; `job_key` is
    the config.json key of the job that made the folder (what `run_or_load` compares)."""

    path: Path
    config: dict[str, Any]
    arrays: dict[str, np.ndarray]
    summary: dict[str, Any]

    kind: ClassVar[str | None] = None
    job_key: ClassVar[str] = "job"

    def __init_subclass__(cls, *, kind: str | None = None, job_key: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if job_key is not None:
            cls.job_key = job_key
        if kind is not None:
            KINDS.add(cls, kind, Run)
            cls.kind = kind


def environment() -> dict[str, Any]:
    """What is needed to reproduce a run: versions, commit, device, processor (its vector ISA sets the last
    bits), XLA flags and the seed offset ($SUPERPOSE_SEED_OFFSET, added to every seed)."""
    import jax

    from superpose import processor
    from superpose.train import rng

    return {
        "versions": {"python": platform.python_version(),
                     **processor.versions("superpose", "jax", "jaxlib", "optax", "numpy")},
        "git_commit": _git_commit(),
        "platform": platform.platform(),
        "devices": [d.device_kind for d in jax.devices()],
        "processor": processor.record(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "seed_offset": rng.seed_offset(),
    }


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            check=False,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def check_writable(folder: Path) -> None:
    """Fail early, before any compute, if `folder` cannot be created or written."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ResultError(f"output folder {folder} is not writable")
    try:  # permissions can say yes where the file system says no (root, /proc, read-only mounts)
        os.rmdir(tempfile.mkdtemp(prefix=".superpose-probe-", dir=probe))
    except OSError as e:
        raise ResultError(f"output folder {folder} is not writable ({e.strerror})") from None


def json_normalise(value):
    """What `value` looks like after a JSON round trip (tuples become lists): compare a job with a saved
    config
    through this."""
    return json.loads(json.dumps(value))


def save(folder: Path, *, config: dict, arrays: dict[str, np.ndarray], summary: dict) -> Path:
    """Write a result folder atomically (temp folder + rename)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        np.savez(tmp / "arrays.npz", **arrays)
        checksum = _sha256(tmp / "arrays.npz")
        (tmp / "config.json").write_text(
            json.dumps({"schema": SCHEMA_VERSION, "arrays_sha256": checksum, **config}, indent=1)
        )
        (tmp / "summary.json").write_text(json.dumps(summary, indent=1))
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old)
        else:
            tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load(folder: Path) -> Run:
    folder = Path(folder)
    for name in FILES:
        if not (folder / name).is_file():
            raise ResultError(f"{folder / name} is missing")
    config = _read_json(folder / "config.json")
    if config.get("schema") != SCHEMA_VERSION:
        raise ResultError(
            f"{folder / 'config.json'} has schema {config.get('schema')}, this superpose reads "
            f"{SCHEMA_VERSION}; "
            "re-run the experiment to regenerate it"
        )
    if config.get("arrays_sha256") != _sha256(folder / "arrays.npz"):
        raise ResultError(f"{folder / 'arrays.npz'} does not match the checksum in config.json (corrupted?)")
    try:
        with np.load(folder / "arrays.npz", allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # a damaged file
        raise ResultError(f"{folder / 'arrays.npz'} cannot be read: {e}") from None
    kind = _kind_of(config)
    if kind is not None and kind not in KINDS.names():
        raise ResultError(
            f"{folder / 'config.json'} holds a result of kind {kind!r}, which no imported module "
            f"defines (known: {', '.join(KINDS.names())}); load it with superpose.load"
        )
    cls = Run if kind is None else KINDS.get(kind)
    return cls(folder, config, arrays, _read_json(folder / "summary.json"))


def holds(folder: Path, kind: type[Run], job) -> bool:
    """Whether `folder` is a complete, readable `kind` result of exactly `job` (so a re-run may skip it)."""
    try:
        config = load(folder).config
    except ResultError:
        return False
    return _kind_of(config) == kind.kind and config.get(kind.job_key) == json_normalise(job)


def _kind_of(config: dict) -> str | None:
    """The folder's kind. Folders written before config.json named it (superpose 0.1.0 until December 2026,
    the
    same schema 2) are told apart by the key of their job, as the built-in kinds of that release wrote it."""
    if "kind" in config:
        return config["kind"]
    for key, kind in (("sweep", "toy_sweep"), ("targets", "targets"), ("decomposition", "decomposition")):
        if key in config:
            return kind
    if isinstance(config.get("job"), dict) and "saes" in config["job"]:
        return "sae_group"
    return None


def run_or_load(
    kind: type[Run],
    folder: Path,
    job,
    compute: Callable[[Path], tuple[dict, dict, dict]],
    *,
    skip_existing: bool = False,
) -> Path:
    """Make the `kind` result folder of `job`, or keep it when `skip_existing` and it already holds `job`.

    `compute(checkpoint)` trains and evaluates (resuming from `checkpoint`, the trainer's file beside the
    folder, when a previous run was interrupted) and returns (arrays, summary, config): the folder's arrays,
    its summary and what config.json records beside the kind, the job and the environment. On several
    processes (superpose.train.processes) all train; process 0 writes, and the others wait until it has."""
    from superpose.train import checkpoint as checkpoint_lib
    from superpose.train import processes

    folder = Path(folder)
    found = skip_existing and holds(folder, kind, job)
    processes.check_same(
        str(found), f"whether {folder} holds the result (the output folder must be on a file system every "
        "process sees)"
    )
    if found:
        return folder
    check_writable(folder.parent)
    checkpoint = checkpoint_lib.beside(folder)
    arrays, summary, config = compute(checkpoint)
    if processes.is_writer():
        save(
            folder,
            config={"kind": kind.kind, kind.job_key: job, **config, "environment": environment()},
            arrays=arrays,
            summary=summary,
        )
        checkpoint_lib.remove(checkpoint)
    processes.barrier(f"wrote {folder}")
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ResultError(f"{path} cannot be read: {e}") from None
