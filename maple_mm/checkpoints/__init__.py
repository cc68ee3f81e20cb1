"""Checkpoints: the restricted unpickler every load goes through, and the reference converter."""
