"""Inference on any list of class names, in mmpretrain's API; PromptAlign's source statistics."""
from .inference import (PromptedCLIPInferencer, classify_images, image_files, load_model,
                        output_field, result_line)
from .source_statistics import write_source_statistics

__all__ = [
    'PromptedCLIPInferencer', 'classify_images', 'image_files', 'load_model', 'output_field',
    'result_line', 'write_source_statistics'
]
