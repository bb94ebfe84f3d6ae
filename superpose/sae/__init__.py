"""Sparse autoencoders: the base model and config, the architectures, training groups, evaluation,
baselines, SAELens exchange and steering. Importing the package registers the built-in architectures."""

from superpose.sae import architectures as _architectures  # noqa: F401  (registers the built-in ones)
