"""Bring your own activations: an SAE source read from arrays instead of generated.

    source = arrays.open_source("acts.npy")                       # N x D activations
    source = arrays.open_source("acts.npz")                       # keys: activations [, directions, codes]
    source = arrays.open_source("acts.safetensors")               # the same keys, safetensors format
    source = arrays.ArraySource(x_NxD, directions_GxD=W, codes_NxG=c)   # arrays in memory

`superpose.sae.model.train(configs, source)` and `superpose.sae.group` treat an `ArraySource`
like a generated `FeatureSource`: every SAE of a group sees the same batches. Training streams them: the
host reads one chunk of `log_every` batches at a time (rows of a memory-mapped `.npy` or safetensors file
are read when that chunk needs them), so neither host nor device memory holds the whole data set. Batches
run through the rows in a fresh random order every epoch (`shuffle_seed`), so N need not divide anything.

The optional true dictionary (G x D) and true codes (N x G, non-negative, 0 = inactive) give the same
recovery metrics as a generated source; without them only the reconstruction metrics (explained
variance, L0, dead latents, shrinkage) are computed. Evaluation reads the first `n_eval` rows (or
`evaluation_rows`), so hold out data by passing rows the SAE did not train on (`train_rows`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from superpose.validate import ConfigError

KEYS = ("activations", "directions", "codes")
"""Array names in `.npz` and safetensors files: activations (N x D) and, optionally, the true dictionary
(G x D) and true codes (N x G)."""


class ArraySource:
    """Activations (N x D, any float dtype, possibly memory-mapped) with an optional true dictionary and
    codes."""

    def __init__(
        self,
        activations_NxD: Any,
        *,
        directions_GxD: Any = None,
        codes_NxG: Any = None,
        train_rows: slice | None = None,
        evaluation_rows: slice | None = None,
        shuffle_seed: int = 0,
        shuffle: bool = True,
        name: str = "arrays",
    ):
        self.activations = activations_NxD
        self.directions = None if directions_GxD is None else np.asarray(directions_GxD, np.float32)
        self.codes = codes_NxG
        self.name = name
        self.shuffle_seed = shuffle_seed
        self.shuffle = shuffle
        shape = np.shape(activations_NxD)
        if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
            raise ConfigError(f"{name}: activations must be an N x D array, got shape {shape}")
        if not np.issubdtype(np.dtype(getattr(activations_NxD, "dtype", np.float32)), np.floating):
            raise ConfigError(f"{name}: activations must be floating point")
        n, d = shape
        if self.directions is not None and (self.directions.ndim != 2 or self.directions.shape[1] != d):
            raise ConfigError(f"{name}: the true dictionary must be G x {d}, got {self.directions.shape}")
        if codes_NxG is not None:
            g = None if self.directions is None else self.directions.shape[0]
            if (
                np.shape(codes_NxG)[0] != n
                or (g is not None and np.shape(codes_NxG)[1] != g)
                or len(np.shape(codes_NxG)) != 2
            ):
                raise ConfigError(f"{name}: true codes must be {n} x {g or 'G'}, got {np.shape(codes_NxG)}")
        self.train_rows = range(n)[train_rows or slice(None)]
        self.evaluation_rows = range(n)[evaluation_rows or slice(None)]
        if len(self.train_rows) == 0 or len(self.evaluation_rows) == 0:
            raise ConfigError(f"{name}: no rows left to train or evaluate on")

    @property
    def n_dims(self) -> int:
        return int(np.shape(self.activations)[1])

    @property
    def n_rows(self) -> int:
        return len(self.train_rows)

    # --- training: one chunk of batches at a time -----------------------------------------------------------

    def rows(self, first_sample: int, n_samples: int) -> np.ndarray:
        """Row indices of samples first_sample … first_sample + n_samples − 1 of the training stream: epoch e
        is a permutation of the training rows drawn from (shuffle_seed, e), or the rows in order."""
        n = self.n_rows
        positions = np.arange(first_sample, first_sample + n_samples, dtype=np.int64)
        if not self.shuffle:
            return np.asarray(self.train_rows)[positions % n]
        out = np.empty(n_samples, np.int64)
        for epoch in np.unique(positions // n):
            here = positions // n == epoch
            order = np.random.default_rng((self.shuffle_seed, int(epoch))).permutation(n)
            out[here] = np.asarray(self.train_rows)[order[positions[here] % n]]
        return out

    def chunk(self, t0: int, n_steps: int, batch_size: int) -> np.ndarray:
        """The batches of steps t0 … t0 + n_steps − 1, float32, n_steps x batch_size x D."""
        rows = self.rows(t0 * batch_size, n_steps * batch_size)
        order = np.argsort(rows, kind="stable")  # read a memory map front to back
        x = np.empty((rows.size, self.n_dims), np.float32)
        x[order] = _take(self.activations, rows[order])
        return x.reshape(n_steps, batch_size, self.n_dims)

    def fingerprint(self) -> list[np.ndarray]:
        """What a checkpoint trained on this source must match: sizes, the order's seed and a sample of
        rows."""
        probe = np.linspace(0, np.shape(self.activations)[0] - 1, 64).astype(np.int64)
        return [
            np.asarray(
                [
                    *np.shape(self.activations),
                    self.shuffle_seed if self.shuffle else -1,
                    self.train_rows.start,
                    self.train_rows.stop,
                ]
            ),
            _take(self.activations, probe).astype(np.float32),
        ]

    # --- evaluation ----------------------------------------------------------------------------------------

    def evaluation_batch(self, n_eval: int) -> tuple[np.ndarray | None, np.ndarray]:
        """(codes G x N or None, activations N x D) of the first `n_eval` evaluation rows."""
        rows = np.asarray(self.evaluation_rows[:n_eval])
        x = _take(self.activations, rows).astype(np.float32)
        codes = None if self.codes is None else _take(self.codes, rows).astype(np.float32).T
        return codes, x

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "arrays",
            "name": self.name,
            "rows": int(np.shape(self.activations)[0]),
            "dims": self.n_dims,
            "directions": self.directions is not None,
            "codes": self.codes is not None,
            "train_rows": [self.train_rows.start, self.train_rows.stop],
            "evaluation_rows": [self.evaluation_rows.start, self.evaluation_rows.stop],
            "shuffle_seed": self.shuffle_seed,
        }


def record(
    source, n_steps: int, batch_size: int, path: str | Path, *, data_seed: int = 0, progress: bool = False
) -> ArraySource:
    """The batches SAEs trained on a generated `source` with `data_seed` would draw (steps 0 … n_steps − 1,
    bit for bit), written to the `.npy` file `path` and opened as an unshuffled `ArraySource`: groups of
    SAEs that train one after another on the same source read them instead of drawing them again (worth it
    where drawing costs more than the SAE step, as in the SynthSAEBench world)."""
    import jax
    from tqdm import tqdm

    from superpose.data import groundtruth
    from superpose.train import rng

    draw = jax.jit(
        lambda t: groundtruth.sample(source, jax.random.fold_in(rng.key(data_seed, "hash"), t), batch_size)[1]
    )
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(n_steps * batch_size, source.n_dims)
    )
    for t in tqdm(range(n_steps), disable=not progress, desc="drawing batches", leave=False):
        out[t * batch_size : (t + 1) * batch_size] = np.asarray(draw(np.uint32(t)))
    out.flush()
    return ArraySource(np.load(path, mmap_mode="r"), shuffle=False, name=Path(path).name)


def _take(array, rows: np.ndarray) -> np.ndarray:
    return np.asarray(array[rows]) if len(rows) else np.zeros((0, *np.shape(array)[1:]), np.float32)


def open_source(path: str | Path, **options) -> ArraySource:
    """An `ArraySource` over a `.npy` (activations only), `.npz` or `.safetensors` file (`KEYS`). `.npy` and
    safetensors files are memory-mapped; an `.npz` is read when opened (numpy cannot map compressed members).
    `options` are `ArraySource`'s keywords."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no such array file: {path}")
    try:
        if path.suffix == ".npy":
            found = {"activations": np.load(path, mmap_mode="r")}
        elif path.suffix == ".npz":
            with np.load(path) as data:
                found = {key: data[key] for key in KEYS if key in data.files}
        elif path.suffix == ".safetensors":
            found = _map_safetensors(path)
        else:
            raise ConfigError(f"{path}: array files are .npy, .npz or .safetensors")
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    if "activations" not in found:
        raise ConfigError(f"{path} has no array named 'activations'")
    return ArraySource(
        found["activations"],
        directions_GxD=found.get("directions"),
        codes_NxG=found.get("codes"),
        name=path.name,
        **options,
    )


_SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def _map_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The `KEYS` arrays of a safetensors file, memory-mapped (the format: an 8-byte header length, a JSON
    header of dtype, shape and byte offsets, then the raw little-endian data)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:  # validates the file
        names = set(f.keys())
    with open(path, "rb") as f:
        header_bytes = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_bytes))
    out = {}
    for key in KEYS:
        if key not in names:
            continue
        entry = header[key]
        if entry["dtype"] not in _SAFETENSORS_DTYPES:
            raise ConfigError(f"{path}: {key} is {entry['dtype']}; use F16, F32 or F64")
        start, _ = entry["data_offsets"]
        out[key] = np.memmap(
            path,
            dtype=np.dtype(_SAFETENSORS_DTYPES[entry["dtype"]]).newbyteorder("<"),
            mode="r",
            offset=8 + header_bytes + start,
            shape=tuple(entry["shape"]),
        )
    return out
