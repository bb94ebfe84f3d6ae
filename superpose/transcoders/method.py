"""Transcoders as a decomposition method: trained as a group of replacements of a target
(superpose.transcoders.model) and scored by their faithfulness (superpose.transcoders.faithfulness)."""

from __future__ import annotations

from superpose.decomposition.training import Method
from superpose.transcoders import faithfulness, model


class Transcoder(Method, name="transcoder"):
    config = model.TranscoderConfig
    train = staticmethod(model.train)
    evaluate = staticmethod(faithfulness.evaluate)
