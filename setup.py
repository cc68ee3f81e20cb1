"""maple_mm: MaPLe multi-modal prompt learning as an mmpretrain plugin."""
from setuptools import find_packages, setup

setup(
    name='maple_mm',
    version='0.1.0',
    description='MaPLe (Multi-modal Prompt Learning, CVPR 2023) for mmpretrain on open_clip',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['maple_mm', 'maple_mm.*']),
    python_requires='>=3.10',
    install_requires=[
        'torch>=2.6', 'torchvision', 'numpy<2.4', 'setuptools<81', 'mmengine>=0.10.7',
        'mmcv-lite>=2.2.0', 'mmpretrain>=1.2.0', 'open_clip_torch>=3.0',
    ],
    license='Apache-2.0',
)
