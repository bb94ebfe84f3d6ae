"""Trade SAEs with SAELens: its on-disk format, written and read with numpy (no torch).

A SAELens SAE (version 6) is a folder with `cfg.json` and `sae_weights.safetensors`. The weights are
W_enc (d_in x d_sae), b_enc (d_sae), W_dec (d_sae x d_in), b_dec (d_in), plus what the architecture adds:
`threshold` (d_sae) for "jumprelu"; b_gate, r_mag, b_mag for "gated" (b_gate in place of b_enc). cfg.json
names the architecture and sizes; superpose writes:

  {"architecture": ..., "d_in": D, "d_sae": L, "dtype": "float32", "device": "cpu",
   "apply_b_dec_to_input": true, "normalize_activations": "none", "reshape_activations": "none",
   "k": K (topk only), "metadata": {"superpose": {...the SAE's config, source folder, instance...}}}

superpose's encoder subtracts b_dec from its input, hence `apply_b_dec_to_input`. Each architecture maps
itself (`SAE.to_saelens`, `SAE.from_saelens`, `SAE.saelens_reads`), exactly at inference:

  superpose l1                     -> SAELens "standard"  f = ReLU(h)
  superpose topk                   -> "topk" with k       f = ReLU(TopK_k(h))
  superpose batchtopk, matryoshka  -> "jumprelu"          f = h·H(h − θ), θ_l = the running threshold
  superpose jumprelu               -> "jumprelu"          θ_l = exp(log_threshold_l)
  superpose gated                  -> "gated"             f = H(h_gate)·ReLU(h_mag)

Reading maps back: "standard" -> l1, "topk" -> topk, "jumprelu" -> jumprelu, "gated" -> gated. (A batch
top-k SAE comes back as the jumprelu it is at inference.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from superpose.sae import model as sae_lib
from superpose.validate import ResultError

CONFIG_FILE = "cfg.json"
WEIGHTS_FILE = "sae_weights.safetensors"



def _safetensors():
    try:
        from safetensors import numpy as st
    except ImportError as e:  # pragma: no cover - a dependency, named in the message if it is missing
        raise ResultError("reading and writing SAELens files needs the 'safetensors' package "
                          "(pip install safetensors)") from e
    return st


def weights(config: sae_lib.SAEConfig, params: dict[str, np.ndarray], threshold: float | None = None
            ) -> tuple[str, dict[str, np.ndarray], dict]:
    """(SAELens architecture, its weights by name, further cfg.json keys) of one superpose SAE (`params`
    without instance axis; `threshold`: the running inference threshold of the batch top-k family), as its
    architecture maps itself (`SAE.to_saelens`)."""
    cls = sae_lib.ARCHITECTURES.get(config.architecture)
    arch, tensors, extra = cls.to_saelens(config, params, threshold)
    return arch, {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}, extra


def write(
    folder: Path,
    config: sae_lib.SAEConfig,
    params: dict[str, np.ndarray],
    *,
    threshold: float | None = None,
    metadata: dict | None = None,
) -> Path:
    """One SAE as a SAELens folder."""
    arch, tensors, extra = weights(config, params, threshold)
    d_sae, d_in = tensors["W_dec"].shape
    cfg = {
        "architecture": arch,
        "d_in": int(d_in),
        "d_sae": int(d_sae),
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {"superpose": {"config": config.to_dict(), **(metadata or {})}},
    }
    cfg |= extra
    folder.mkdir(parents=True, exist_ok=True)
    _safetensors().save_file(tensors, str(folder / WEIGHTS_FILE))
    (folder / CONFIG_FILE).write_text(json.dumps(cfg, indent=1))
    return folder


def export(run, out: Path, instances: list[int] | None = None) -> list[Path]:
    """The SAEs of a superpose SAE result folder (`superpose.load`ed), one SAELens folder each, named
    sae-I under `out`."""
    n = len(run.configs)
    chosen = list(range(n)) if instances is None else instances
    for i in chosen:
        if not 0 <= i < n:
            raise ResultError(f"instance {i} is not in {run.path} (it holds {n} SAEs: 0 to {n - 1})")
    written = []
    for i in chosen:
        config = run.configs[i]
        params = {
            name: np.asarray(a[i])
            for name, a in run.arrays.items()
            if name.endswith(("_DxL", "_LxD", "_L", "_D"))
        }
        threshold = float(run.arrays["threshold"][i]) if "threshold" in run.arrays else None
        written.append(
            write(
                out / f"sae-{i}",
                config,
                params,
                threshold=threshold,
                metadata={"source_folder": str(run.path), "instance": i},
            )
        )
    return written


def read(folder: Path) -> tuple[sae_lib.SAEConfig, dict[str, np.ndarray]]:
    """A SAELens folder as (superpose SAEConfig, params by superpose name) for `superpose.sae.model.model`."""
    folder = Path(folder)
    try:
        cfg = json.loads((folder / CONFIG_FILE).read_text())
        tensors = _safetensors().load_file(str(folder / WEIGHTS_FILE))
    except FileNotFoundError as e:
        raise ResultError(
            f"{folder} is not a SAELens SAE folder (needs {CONFIG_FILE} and {WEIGHTS_FILE})"
        ) from e
    except (ValueError, OSError) as e:
        raise ResultError(f"{folder}: cannot read the SAE ({e})") from e
    arch = cfg.get("architecture", "standard")
    readers = {c.saelens_reads: c for c in map(sae_lib.ARCHITECTURES.get, sae_lib.ARCHITECTURES.names())
               if c.saelens_reads is not None}
    if arch not in readers:
        known = ", ".join(readers)
        raise ResultError(f"{folder}: SAELens architecture '{arch}' cannot be read (known: {known})")
    if cfg.get("normalize_activations", "none") != "none":
        raise ResultError(
            f"{folder}: normalize_activations = '{cfg['normalize_activations']}' is not supported"
        )
    if cfg.get("rescale_acts_by_decoder_norm", False) and arch != "topk":  # TopK reads it as recipe saelens
        raise ResultError(f"{folder}: rescale_acts_by_decoder_norm is supported for topk SAEs only")
    t = {k: np.asarray(v, np.float32) for k, v in tensors.items()}
    # superpose always encodes x − b_dec; an SAE that encodes x gets b_dec·W_enc folded into its encoder
    # biases
    shift = 0.0 if cfg.get("apply_b_dec_to_input", False) else 1.0
    try:
        options, params = readers[arch].from_saelens(cfg, t, shift)
    except ResultError as e:
        raise ResultError(f"{folder}: {e}") from None
    return sae_lib.SAEConfig(**options), params
