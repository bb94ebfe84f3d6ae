"""Toy models of superposition (Elhage et al. 2022): configs, models, how they train, theory, the optimum of
each configuration, and sweeps of many instances trained as shape groups."""
