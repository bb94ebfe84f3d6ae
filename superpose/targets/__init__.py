"""Targets: models whose computation is known (TMS, TMS with a hidden identity, residual MLPs, the absolute
value, a planted two-hop circuit, the mixing MLP), trained or planted as a group and saved as a folder."""
