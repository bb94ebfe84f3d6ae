"""Models with known computation: the targets that parameter decompositions and transcoders are judged on."""
