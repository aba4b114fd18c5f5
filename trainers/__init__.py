"""Training and measuring candidates: data, co-training, ensembles, latency."""
