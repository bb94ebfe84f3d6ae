"""BatchTopK: keep the B·k largest ReLU(h) of the batch; inference uses the running threshold θ (EMA of the
smallest kept value; Bussmann et al. 2024); penalty as topk."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from superpose.activations import batch_top_k_mask
from superpose.sae.architectures.topk import TopK
from superpose.sae.model import SAE, saelens_weights
from superpose.validate import ResultError


class BatchTopK(TopK, name="batchtopk"):
    loss = SAE.loss  # a batch's kept latents vary per sample: decoded densely
    saelens_reads = None  # exported as the JumpReLU it is at inference, and read back as one

    @classmethod
    def to_saelens(cls, config, params, threshold):
        if threshold is None:
            raise ResultError(f"a {config.architecture} SAE needs its running threshold to become a JumpReLU")
        weights = saelens_weights(params)
        theta = np.full(weights["b_enc"].shape[0], threshold)
        if config.recipe == "saelens":  # the threshold is on ReLU(h)·‖W_dec,l‖: on ReLU(h), θ / ‖W_dec,l‖
            theta = theta / np.linalg.norm(weights["W_dec"], axis=1)
        return "jumprelu", weights | {"threshold": theta}, {}

    def encode(self, x_BxD, *, training=True, threshold=None):
        h = self.pre_activations(x_BxD)
        a = jax.nn.relu(h)
        keep = batch_top_k_mask(self.scores(a), self.config.k)[0] if training else self.scores(a) > threshold
        return jnp.where(keep, a, 0.0), h

    def batch_threshold(self, h_BxL):
        return batch_top_k_mask(self.scores(jax.nn.relu(h_BxL)), self.config.k)[1]
