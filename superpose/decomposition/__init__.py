"""Parameter decompositions of a target (SPD, APD): importing the package registers both methods."""

from superpose.decomposition import apd as _apd  # noqa: F401  (registers "apd")
from superpose.decomposition import spd as _spd  # noqa: F401  (registers "spd")
