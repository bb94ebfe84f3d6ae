"""Parameter decompositions of a target (SPD, APD): importing the package registers both methods."""

from superpose.decomposition import apd as _apd, spd as _spd  # noqa: F401  (register "apd" and "spd")
