"""Data sources: the toy models' sparse features, ground-truth feature sources for SAEs (toy-model
activations, the Sharkey preset, SynthSAEBench worlds) and your own activations as arrays."""
