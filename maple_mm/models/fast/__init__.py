"""Exact speed paths: the same features as :mod:`maple_mm.models.towers` with less work.

Text runs only up to each prompt's EOT, the prefix shared by all class prompts
runs once, the last blocks compute only the pooled rows, attention uses
batch-first projections over open_clip's block weights, and text features are
cached between evaluation batches. The parity tests
(``tests/test_models/test_fast_text.py``) are their contract; the methods never
depend on them (``efficient=False`` turns them all off).
"""
