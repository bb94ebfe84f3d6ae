"""Pure measures on arrays (numpy, jax, scipy only): feature geometry of a toy model's W, how well a learned
dictionary recovers known directions, and the pieces of a parameter decomposition."""
