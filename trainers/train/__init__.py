"""Training a candidate: co-training loop, losses, optimiser, evaluation, checkpoints, ensembles, fused and distributed execution, imitation."""
