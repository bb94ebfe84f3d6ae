"""The PyTorch peer of benchmarks/run.py's workload (h): SAELens's `MultiSAETrainer` training N TopK SAEs in
lockstep on one shared stream of synthetic activations.

    python benchmarks/saelens_sweep.py WORLD.npz OUT.npz [--saes 8] [--samples 5000000]

WORLD.npz (written by run.py) holds the true directions (G x D) and firing probabilities; magnitudes are
U(0, 1], as in superpose's generated sources. Needs torch and sae-lens (never a superpose dependency). Prints
the training wall time in seconds and writes every SAE's decoder (N x L x D) to OUT.npz. """

import argparse
import time

import numpy as np
import torch
from sae_lens import TopKTrainingSAE, TopKTrainingSAEConfig
from sae_lens.config import LoggingConfig, SAETrainerConfig
from sae_lens.training.multi_sae_trainer import MultiSAETrainer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("world")
    parser.add_argument("out")
    parser.add_argument("--saes", type=int, default=8)
    parser.add_argument("--samples", type=int, default=5_000_000)
    parser.add_argument("--latents", type=int, default=256)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1024)
    args = parser.parse_args()
    world = np.load(args.world)
    directions = torch.as_tensor(world["directions"])
    probability = torch.as_tensor(world["probability"])
    d_in = directions.shape[1]
    torch.manual_seed(0)

    def batches():
        while True:
            on = torch.rand(args.batch, probability.shape[0]) < probability
            codes = on * (1.0 - torch.rand(args.batch, probability.shape[0]))  # U(0, 1] when firing
            yield {"x": codes @ directions}

    saes = {f"sae{i}": TopKTrainingSAE(TopKTrainingSAEConfig(d_in=d_in, d_sae=args.latents, k=args.k))
            for i in range(args.saes)}
    config = SAETrainerConfig(
        total_training_samples=args.samples,
        train_batch_size_samples=args.batch,
        lr=3e-4,
        lr_end=3e-4,
        logger=LoggingConfig(log_to_wandb=False),
    )
    trainer = MultiSAETrainer(config, saes, {name: "x" for name in saes}, batches())
    start = time.perf_counter()
    trainer.fit()
    print(f"{time.perf_counter() - start:.2f}")
    np.savez(args.out, W_dec=np.stack([sae.W_dec.detach().numpy() for sae in saes.values()]))


if __name__ == "__main__":
    main()
