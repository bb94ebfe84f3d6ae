"""The built-in SAE architectures, one module each (superpose.sae.model explains the contract).

With h the pre-activations and ‖W_dec,l‖ the decoder row norms:

  l1          f = ReLU(h); penalty λ Σ_l f_l ‖W_dec,l‖ (Bricken et al. 2023, with the decoder-norm-weighted
              penalty of Anthropic's April 2024 update)
  topk        f = ReLU(TopK_k(h)); penalty α·AuxK (Gao et al. 2024). For k ≤ SPARSE_MAX_K training decodes
              sparsely (only each sample's k decoder rows), and AuxK runs only while some SAE of the
              step's group has a dead latent
  batchtopk   keep the B·k largest ReLU(h) of the batch; inference uses the running threshold θ
              (EMA of the smallest kept value; Bussmann et al. 2024); penalty as topk
  jumprelu    f = h·H(h − θ); penalty λ Σ_l H(h_l − θ_l) with straight-through pseudo-derivatives for θ
              (rectangle kernel, bandwidth ε; Rajamanoharan et al. 2024)
  gated       f = H(π_gate)·ReLU(π_mag); penalty λ Σ ReLU(π_gate)‖W_dec‖ + the MSE of the gate path through a
              frozen decoder (Rajamanoharan et al. 2024)
  matryoshka  batchtopk plus the MSE of every nested prefix of latents (Bussmann et al. 2025)
"""

# Registered in this order, the order `superpose.sae.model.architectures()` lists them.
# isort: off
from superpose.sae.architectures.l1 import L1
from superpose.sae.architectures.topk import TopK
from superpose.sae.architectures.batchtopk import BatchTopK
from superpose.sae.architectures.matryoshka import Matryoshka
from superpose.sae.architectures.jumprelu import JumpReLU
from superpose.sae.architectures.gated import Gated
# isort: on

__all__ = ["L1", "BatchTopK", "Gated", "JumpReLU", "Matryoshka", "TopK"]
