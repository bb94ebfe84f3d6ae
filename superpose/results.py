"""Result folders: what a run leaves on disk, readable without superpose.

A folder holds
  config.json   the schema version, the SHA-256 of arrays.npz, the sweep, the static config of the group, every instance's
                resolved config, seed and axis values, and the environment
                (versions, git commit, device, XLA flags);
  arrays.npz    W (I, F, H), b (I, F), loss (I, C), loss_step (C), and the
                per-instance feature_probability / importance (I, F);
  summary.json  per-instance metrics, final loss, divergence, best-of-k flag.
The folder is written under a temporary name and renamed into place, so a
reader never sees a half-written result.
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
from pathlib import Path
from typing import Any

import numpy as np

from superpose.validate import ResultError

SCHEMA_VERSION = 2
"""2: config.json carries `arrays_sha256`, checked on every load."""
FILES = ("config.json", "arrays.npz", "summary.json")


@dataclasses.dataclass(frozen=True)
class Run:
    path: Path
    config: dict[str, Any]
    arrays: dict[str, np.ndarray]
    summary: dict[str, Any]


def environment() -> dict[str, Any]:
    """What is needed to reproduce a run: versions, commit, device, processor (its vector ISA sets the last bits),
    XLA flags and the seed offset ($SUPERPOSE_SEED_OFFSET, added to every seed)."""
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
    """What `value` looks like after a JSON round trip (tuples become lists): compare a job with a saved config
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
            f"{folder / 'config.json'} has schema {config.get('schema')}, this superpose reads {SCHEMA_VERSION}; "
            "re-run the experiment to regenerate it"
        )
    if config.get("arrays_sha256") != _sha256(folder / "arrays.npz"):
        raise ResultError(f"{folder / 'arrays.npz'} does not match the checksum in config.json (corrupted?)")
    try:
        with np.load(folder / "arrays.npz", allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # a damaged file
        raise ResultError(f"{folder / 'arrays.npz'} cannot be read: {e}") from None
    return Run(folder, config, arrays, _read_json(folder / "summary.json"))


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
