"""The host loop around a compiled chunk of training steps, shared by toy models and SAEs.

Once per chunk it reads the per-instance mean loss, marks instances whose loss
became non-finite, updates the progress bar, keeps optional snapshots and, at
most every `checkpoint.every_seconds()`, saves a checkpoint it can resume from. On several processes
(superpose.train.processes) process 0 shows the progress and decides when to save; all resume from the same
checkpoint or none.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from tqdm import tqdm

from superpose.train import checkpoint as checkpoint_lib
from superpose.train import processes
from superpose.train.sharding import to_host


class History(NamedTuple):
    loss_IxC: np.ndarray
    """Mean training loss of each chunk."""
    steps_C: np.ndarray
    """The step count at the end of each chunk."""
    diverged_step_I: np.ndarray
    """Step at whose chunk the loss first became non-finite, -1 if never."""
    snapshots_IxC: np.ndarray | None
    """`snapshot(state)` at the end of every chunk, stacked on axis 1 (None without `snapshot`)."""


def run_chunks(
    advance: Callable[[Any, int, int], tuple[Any, Any]],
    state: Any,
    *,
    total_steps: int,
    chunk_steps: int,
    n_instances: int,
    checkpoint: Path | None = None,
    fingerprint: str = "",
    snapshot: Callable[[Any], Any] | None = None,
    progress: bool = True,
    desc: str = "train",
) -> tuple[Any, History]:
    """Train `state` for `total_steps` steps, `chunk_steps` at a time.

    Args:
      advance: `advance(state, t, n)` runs steps t .. t + n - 1 and returns (state, loss_I).
      n_instances: instances to keep from the leading axis of losses and snapshots (the rest is padding).
      checkpoint: where to keep a mid-run checkpoint; a usable one (same `fingerprint`) is resumed
        from. The caller removes it once the result is saved.
    """
    losses, ends, snapshots = [], [], []
    diverged = np.full(n_instances, -1, np.int64)
    t = 0
    resumed = (
        checkpoint_lib.load(checkpoint, fingerprint=fingerprint, like_state=state) if checkpoint else None
    )
    if checkpoint:
        processes.check_same(
            str(resumed and resumed[0]),
            f"the checkpoint they find at {checkpoint} (the output folder must be on a file system every "
            "process sees)",
        )
    if resumed is not None:
        t, state, saved = resumed
        losses, ends, diverged = list(saved["loss"].T), list(saved["ends"]), saved["diverged"]
        snapshots = list(saved["history"].swapaxes(0, 1)) if "history" in saved else []

    def save_checkpoint():
        saved = {"loss": np.stack(losses, axis=1), "ends": np.asarray(ends), "diverged": diverged}
        if snapshots:
            saved["history"] = np.stack(snapshots, axis=1)
        checkpoint_lib.save(checkpoint, fingerprint=fingerprint, step=t, state=state, history=saved)

    save_every = checkpoint_lib.every_seconds()
    last_save = time.monotonic()
    show = progress and processes.is_writer()
    with tqdm(total=total_steps, initial=t, desc=desc, disable=not show, unit="step", leave=False) as bar:
        if show and resumed is not None:
            bar.write(f"{desc}: resumed at step {t} of {total_steps} from {checkpoint}", file=sys.stderr)
        while t < total_steps:
            n = min(chunk_steps, total_steps - t)
            state, loss_I = advance(state, t, n)
            t += n
            loss_I = to_host(loss_I)[:n_instances]
            diverged[(~np.isfinite(loss_I)) & (diverged < 0)] = t
            losses.append(loss_I)
            ends.append(t)
            if snapshot is not None:
                snapshots.append(to_host(snapshot(state))[:n_instances])
            bar.update(n)
            finite = loss_I[np.isfinite(loss_I)]
            bar.set_postfix(loss=f"{finite.mean():.3g}" if finite.size else "nan")
            if checkpoint and t < total_steps and processes.agree(time.monotonic() - last_save >= save_every):
                save_checkpoint()
                last_save = time.monotonic()
    if checkpoint and (resumed is None or resumed[0] < total_steps):  # a finished piece is not retrained
        save_checkpoint()
    return state, History(
        loss_IxC=np.stack(losses, axis=1),
        steps_C=np.asarray(ends),
        diverged_step_I=diverged,
        snapshots_IxC=np.stack(snapshots, axis=1) if snapshots else None,
    )
