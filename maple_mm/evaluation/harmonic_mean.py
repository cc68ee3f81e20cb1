"""The base-to-novel summary number."""


def harmonic_mean(base: float, novel: float) -> float:
    """HM = 2BN / (B + N), the base-to-novel score; 0 when both are 0."""
    return 2 * base * novel / (base + novel) if base + novel > 0 else 0.0
