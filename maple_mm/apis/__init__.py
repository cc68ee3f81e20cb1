"""Inference on any list of class names, in mmpretrain's API."""
from .inference import (PromptedCLIPInferencer, classify_images, image_files, load_model,
                        output_field, result_line)

__all__ = [
    'PromptedCLIPInferencer', 'classify_images', 'image_files', 'load_model', 'output_field',
    'result_line'
]
