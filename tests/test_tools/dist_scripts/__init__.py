"""Test-only pieces the distributed tests load into their training processes."""
