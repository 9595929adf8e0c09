"""The BTFER protocol: run configs, class balancing, two-phase training, evaluation, sweeps."""
