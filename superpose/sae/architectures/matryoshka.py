"""Matryoshka: batchtopk plus the MSE of every nested prefix of latents (Bussmann et al. 2025)."""

from __future__ import annotations

from superpose.sae.architectures.batchtopk import BatchTopK
from superpose.sae.model import SAEConfig, reconstruction_error
from superpose.validate import ConfigError


class Matryoshka(BatchTopK, name="matryoshka"):
    @classmethod
    def check(cls, config: SAEConfig) -> None:
        super().check(config)
        widths = config.widths()
        if list(widths) != sorted(set(widths)) or widths[0] < 1:
            raise ConfigError(f"matryoshka_widths must increase strictly within (0, {config.n_latents}), got "
                              f"{config.matryoshka_widths}")

    def penalties(self, x_BxD, h_BxL, f_BxL, x_hat_BxD, coefficient, dead_L):
        W_dec, b_dec = self.W_dec_LxD[...], self.b_dec_D[...]
        return super().penalties(x_BxD, h_BxL, f_BxL, x_hat_BxD, coefficient, dead_L) + [
            reconstruction_error(self.config, x_BxD, f_BxL[:, :width] @ W_dec[:width] + b_dec)
            for width in self.config.widths()[:-1]
        ]
