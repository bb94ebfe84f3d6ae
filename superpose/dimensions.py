"""The dimension alphabet: what the capital letters after an array's name mean, for the whole package.

An array's name ends in its axes, joined by ``x``: ``W_FxH`` is features x hidden, ``loss_IxC`` instances x
chunks. One letter, one axis; where a letter names two axes, the module's own docstring says which it means
(noted below). `tests/test_dimensions.py` fails on a suffix letter that is not in `DIMENSIONS`.
"""

DIMENSIONS = {
    "I": "instances trained in one program (the trainer's vmapped axis)",
    "B": "batch: inputs of one step, or of one evaluation chunk",
    "F": "features of a toy model or a target (its inputs)",
    "H": "hidden dimensions of a toy model; neurons of a target's MLP",
    "D": "input dimensions of an SAE: the activations it reads (a hidden layer, a residual stream)",
    "L": "latents of an SAE or a transcoder",
    "G": "ground-truth features of a source (its true dictionary has G rows)",
    "C": "chunks of `log_every` training steps (one loss value and one snapshot each)",
    "P": "pieces (components, subcomponents) of a parameter decomposition",
    "O": "output dimensions of a decomposed matrix",
    "J": "input dimensions of a decomposed matrix",
    "N": "rows of a collection: samples of a data set, or the points (densities, cells) of a sweep",
    "K": "the k largest latents of a top-k SAE; or the seeds (replicas) of one sweep point",
    "T": "training steps; or the points of a fixed training set (double descent)",
    "A": "active sets: which features are on, one stratum of the expected loss",
    "M": "magnitudes drawn per active set (the expected loss's Monte Carlo draws)",
    "S": "feature sets (correlated / anticorrelated); or the densities of a phase grid",
    "R": "importance ratios of a phase grid; or the rank of a factorisation",
    "Q": "candidate configurations of a toy model (superpose.toy.phase_diagram)",
    "X": "sample points of a figure's x axis",
    "E": "embedding (W_E of a residual target: features into the residual stream)",
}
"""Letter -> axis."""
