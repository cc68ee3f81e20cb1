"""Learning-rate schedules of the recipes."""
from .warmup_cosine_lr import ConstantWarmupCosineLR

__all__ = ['ConstantWarmupCosineLR']
