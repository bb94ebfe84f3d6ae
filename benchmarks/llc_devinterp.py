"""The devinterp peer of benchmark (j): λ̂ of toy models by devinterp's SGLD, one chain after another.

    python benchmarks/llc_devinterp.py IN.npz OUT.npz

IN.npz holds the models (W: I x F x H, b: I x F, the toy model ReLU(W Wᵀ x + b) of superpose's `relu_output`),
each model's fixed data set (x: I x n x F) and the sampler's settings (chains, steps, burn_in, step_size,
localization, nbeta). Each chain is devinterp's `sample_single_chain` with its SGLD optimiser, full-batch, the
loss the mean squared error over features and samples (superpose's toy loss); λ̂ = nβ (mean loss of the draws
after the burn-in − the loss at the start). Prints the sampling seconds (all chains, one after another) and
saves λ̂ per model and chain. Not part of superpose: run by benchmarks/run.py when devinterp is installed.
"""

import os
import sys
import time
import warnings

os.environ.setdefault("TQDM_DISABLE", "1")  # before devinterp imports tqdm

import numpy as np  # noqa: E402
import torch  # noqa: E402
from devinterp.optim.sgld import SGLD  # noqa: E402
from devinterp.slt.sampler import sample_single_chain  # noqa: E402


class Toy(torch.nn.Module):
    def __init__(self, W, b):
        super().__init__()
        self.W = torch.nn.Parameter(torch.tensor(W, dtype=torch.float32))
        self.b = torch.nn.Parameter(torch.tensor(b, dtype=torch.float32))

    def forward(self, x):  # x: B x F
        return torch.relu(x @ self.W @ self.W.T + self.b)


class Rows(torch.utils.data.Dataset):
    def __init__(self, x):
        self.x = torch.tensor(x, dtype=torch.float32)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i]}


def evaluate(model, data):
    x = data["input_ids"]
    return ((model(x) - x) ** 2).mean(), {}


def main(inp: str, out: str) -> None:
    setup = np.load(inp)
    chains, steps, burn_in = int(setup["chains"]), int(setup["steps"]), int(setup["burn_in"])
    kwargs = dict(lr=float(setup["step_size"]), localization=float(setup["localization"]),
                  nbeta=float(setup["nbeta"]))
    llc = np.zeros((len(setup["W"]), chains))
    seconds = 0.0
    for i, (W, b, x) in enumerate(zip(setup["W"], setup["b"], setup["x"], strict=True)):
        model, data = Toy(W, b), Rows(x)
        with torch.no_grad():
            init_loss = float(evaluate(model, {"input_ids": data.x})[0])
        for k in range(chains):
            losses = []
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sample_single_chain(
                    model, data, evaluate, {"W": None, "b": None}, num_draws=steps - burn_in,
                    num_burnin_steps=burn_in, sampling_method=SGLD, sampling_method_kwargs=kwargs, chain=k,
                    seed=1000 * i + k, batch_size=len(data), shuffle=False,
                    callbacks=[lambda loss, losses=losses, **_: losses.append(float(loss))],
                )
            seconds += time.perf_counter() - start
            llc[i, k] = kwargs["nbeta"] * (np.mean(losses) - init_loss)
    print(f"{seconds:.3f}")
    np.savez(out, llc=llc)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
