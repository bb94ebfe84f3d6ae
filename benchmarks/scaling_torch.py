"""The PyTorch peer of benchmark (i): Liu, Liu & Gore's training loop (their exp/exp-10.py), one model at a
time, on the scaling experiment's quick sweep. Written from their description and code, not copied: the model
ReLU(x W Wᵀ + b) with W ~ N(0, 1/m), b ~ N(0, 1); inputs Bernoulli(p_i) x U(0, 2) with p_i ∝ i^-a summing to
1; MSE; Adam with their weight decay on W only, applied before each Adam step with the current learning rate
(W ← W (1 − lr wd) for wd ≥ 0, W_i ← W_i + lr wd W_i (1 − 1/(‖W_i‖ + 1e-8)) for wd < 0); learning rate 1e-2,
linear warm-up over the first 10% of steps, then cosine to 5%.

    python benchmarks/scaling_torch.py OUT.npz

Prints the training seconds (all models, one after another) and saves each model's mean loss over the last
5% of steps, in the experiment's order (width, weight decay, exponent). Not part of superpose: run by
benchmarks/run.py when torch is installed.
"""

import math
import sys
import time

import numpy as np
import torch

N, WIDTHS, DECAYS, EXPONENTS = 100, (4, 6, 8, 11, 16), (-1.0, 1.0), (1.2, 1.6, 2.0)
STEPS, BATCH, LR, WARMUP = 2000, 512, 1e-2, 200


def rate(step: int) -> float:
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    progress = (step - WARMUP) / (STEPS - WARMUP)
    return LR * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(m: int, wd: float, a: float, seed: int) -> float:
    torch.manual_seed(seed)
    p = torch.arange(1, N + 1, dtype=torch.float32) ** -a
    p = p / p.sum()
    W = torch.nn.Parameter(torch.randn(N, m) / math.sqrt(m))
    b = torch.nn.Parameter(torch.randn(N))
    opt = torch.optim.Adam([W, b], lr=LR)
    tail = []
    for step in range(STEPS):
        x = (torch.rand(BATCH, N) < p) * torch.rand(BATCH, N) * 2
        loss = ((torch.relu(x @ W @ W.T + b) - x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        lr = rate(step)
        with torch.no_grad():
            if wd >= 0:
                W.mul_(1 - lr * wd)
            else:
                W.add_(lr * wd * W * (1 - 1 / (W.norm(dim=1, keepdim=True) + 1e-8)))
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        if step >= STEPS * 0.95:
            tail.append(loss.item())
    return float(np.mean(tail))


if __name__ == "__main__":
    torch.set_num_threads(2)
    start = time.perf_counter()
    losses = [
        train(m, wd, a, seed=i)
        for i, (m, wd, a) in enumerate((m, wd, a) for m in WIDTHS for wd in DECAYS for a in EXPONENTS)
    ]
    seconds = time.perf_counter() - start
    np.savez(sys.argv[1], loss=np.asarray(losses).reshape(len(WIDTHS), len(DECAYS), len(EXPONENTS)))
    print(f"{seconds:.2f}")
