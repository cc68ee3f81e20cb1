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
    # Bounds = the versions the test suite passes on (requirements-lock.txt). maple_mm
    # overrides private mmengine code (tests/test_engine/test_mmengine_internals.py) and
    # its fast paths need open_clip's block classes (tests/test_models/test_fast_text.py).
    # The forks onedl-mmengine 0.10.12, onedl-mmpretrain 1.3.6 and onedl-mmcv 2.3.6 also
    # pass (requirements-forks.txt, `make test-forks`); install maple_mm there with
    # `pip install --no-deps`, as their distribution names differ.
    install_requires=[
        'torch>=2.6',
        'torchvision',
        'numpy<2.4',
        'setuptools<81',
        'mmengine>=0.10.7,<0.11',
        'mmcv-lite>=2.2.0,<2.3',
        'mmpretrain>=1.2.0,<1.3',
        'open_clip_torch>=3.3,<3.4',
    ],
    # Optional logging backends of mmengine's visualizer (docs/composition.md); not pinned,
    # not tested: nothing in maple_mm imports them.
    extras_require={
        'wandb': ['wandb'],
        'mlflow': ['mlflow'],
    },
    license='Apache-2.0',
)
