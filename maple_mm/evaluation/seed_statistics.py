"""Mean and spread of a result over seeds, as the reference's parse_test_res reports it."""
import math
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class SeedStatistics:
    """Mean and population standard deviation (NumPy's default ``np.std``) over seeds."""

    mean: float
    std: float
    num_seeds: int

    @classmethod
    def of(cls, values: Sequence[float]) -> 'SeedStatistics':
        """Statistics of one value per seed; needs at least one value."""
        if not values:
            raise ValueError('no values to summarise')
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean)**2 for v in values) / len(values))
        return cls(mean, std, len(values))
