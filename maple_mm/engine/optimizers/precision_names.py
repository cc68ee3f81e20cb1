"""What a config's ``precision`` (and the tools' ``--precision``) may name.

A module of names alone, importing nothing: the tools' parsers read it without importing
torch (``tools/_cli.py``), so ``--help`` answers at once.
"""
#: fp32, mixed precision in fp16 or bf16, or 'amp' (bf16 where the device has it, else fp16).
PRECISION_CHOICES = ('fp32', 'fp16', 'bf16', 'amp')
