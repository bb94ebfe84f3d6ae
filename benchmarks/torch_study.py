"""The PyTorch peer of benchmark (e): the 10-instance study as a plain eager loop, a whole process.

    python benchmarks/torch_study.py OUT.npz

Ten toy models (F=5, H=2, importance 0.9^i, the study's ten densities) trained together as one
batched (10, 5, 2) tensor, batch 1024, 10,000 steps of AdamW (lr 1e-3, weight decay 0.01), the way
the official notebook does it; the final W and b are saved. Not part of superpose: timed by
benchmarks/run.py when torch is installed.
"""

import sys

import numpy as np
import torch

DENSITIES = [1.0, 0.6, 0.36, 0.22, 0.13, 0.08, 0.046, 0.028, 0.017, 0.01]
F, H, BATCH, STEPS = 5, 2, 1024, 10_000

torch.manual_seed(0)
n = len(DENSITIES)
p = torch.tensor(DENSITIES)[:, None, None]
importance = 0.9 ** torch.arange(F, dtype=torch.float32)
W = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(n, F, H)))
b = torch.nn.Parameter(torch.zeros(n, F))
opt = torch.optim.AdamW([W, b], lr=1e-3, weight_decay=0.01)
for _ in range(STEPS):
    x = torch.rand(n, BATCH, F)
    x = torch.where(torch.rand(n, BATCH, F) <= p, x, torch.zeros(()))
    h = torch.einsum("ibf,ifh->ibh", x, W)
    out = torch.relu(torch.einsum("ibh,ifh->ibf", h, W) + b[:, None, :])
    loss = (importance * (x - out) ** 2).mean(dim=(1, 2)).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
np.savez(sys.argv[1], W=W.detach().numpy(), b=b.detach().numpy())
