"""The trainer: any `Learner` (superpose.train.learner), many instances in one compiled program
(`jit(scan(vmap(step)))`, sharded over every device), with checkpoints, divergence, memory pieces and the
fast counter-hash PRNG."""
