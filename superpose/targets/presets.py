"""The SPD paper's targets (Bushnaq, Braun & Sharkey 2025, appendix "Training details"): TMS with AdamW lr
5e-3, weight decay 0.01, 10k steps, p = 0.05, PyTorch's default init (the 5-2 bias left random); residual MLPs
with p = 0.01, values U[-1, 1], AdamW lr 3e-3 with cosine decay, batch 2048."""

from __future__ import annotations

from superpose.targets.resid_mlp import ResidMLPConfig
from superpose.targets.target import TargetConfig
from superpose.targets.tms import TMSConfig

_RESIDUAL_RECIPE = {"feature_probability": 0.01, "learning_rate": 3e-3, "schedule": "cosine",
                    "batch_size": 2048}

PRESETS: dict[str, TargetConfig] = {
    "tms_5-2": TMSConfig(n_features=5, n_hidden=2, bias_init="random", batch_size=1024),
    "tms_5-2-id": TMSConfig(n_features=5, n_hidden=2, identity=True, bias_init="random", batch_size=1024),
    "tms_40-10": TMSConfig(n_features=40, n_hidden=10, batch_size=8192),
    "tms_40-10-id": TMSConfig(n_features=40, n_hidden=10, identity=True, batch_size=8192),
    "resid_mlp1": ResidMLPConfig(n_features=100, n_hidden=50, n_layers=1, steps=1000, log_every=100,
                                 **_RESIDUAL_RECIPE),
    "resid_mlp2": ResidMLPConfig(n_features=100, n_hidden=25, n_layers=2, steps=1000, log_every=100,
                                 **_RESIDUAL_RECIPE),
    "resid_mlp3": ResidMLPConfig(n_features=102, n_hidden=17, n_layers=3, steps=10_000, **_RESIDUAL_RECIPE),
}
"""The recipes by name (module doc)."""
