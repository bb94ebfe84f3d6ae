"""MLP replacements of a target (per-layer, skip and cross-layer transcoders), their faithfulness and
attribution graphs. Importing the package registers the transcoder as a decomposition method."""

from superpose.transcoders import method as _method  # noqa: F401  (registers "transcoder")
