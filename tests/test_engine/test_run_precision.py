"""Which precision a shipped recipe trains and tests in, by device (no GPU needed).

The reference trains every method but VPT in fp16 (``PREC: fp16``); VPT's
``load_clip_to_cpu`` returns ``model.float()`` (trainers/vpt.py). On CUDA the
recipes run fp16 mixed precision, VPT fp32; CPUs fp32; ``--precision`` forces one.
"""
import copy

import pytest
import torch

from maple_mm.engine.optimizers.mixed_precision_optim_wrapper import apply_run_precision
from maple_mm.engine.optimizers.precision import run_precision
from maple_mm.errors import ConfigError
from ..test_configs.zoo import CONFIGS, built

MIXED = 'MixedPrecisionOptimWrapper'


def resolved(name: str, cuda: bool, monkeypatch, precision=None):
    """The config's optim_wrapper and precision after MapleRunner's resolution."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    cfg = copy.deepcopy(built(CONFIGS / name))
    if precision is not None:
        cfg.precision = precision  # what --precision sets
    return apply_run_precision(cfg), cfg.get('optim_wrapper')


@pytest.mark.parametrize('name,on_cuda', [('maple/base2novel_dtd.py', 'fp16'),
                                          ('coop/base2novel_dtd.py', 'fp16'),
                                          ('cocoop/cross_dataset_imagenet.py', 'fp16'),
                                          ('ivlp/few_shot_eurosat.py', 'fp16'),
                                          ('language_prompting/base2novel_ucf101.py', 'fp16'),
                                          ('vpt/base2novel_dtd.py', 'fp32'),
                                          ('zero_shot_clip/base2novel_dtd.py', 'fp32')])
def test_recipes_train_mixed_fp16_on_cuda_and_fp32_on_cpu(monkeypatch, name, on_cuda):
    precision, wrapper = resolved(name, True, monkeypatch)
    assert precision == on_cuda
    if on_cuda == 'fp16':
        assert (wrapper.type, wrapper.precision) == (MIXED, 'fp16')
        assert wrapper.optimizer.lr == built(CONFIGS / name).optim_wrapper.optimizer.lr
    else:
        assert wrapper is None or wrapper.get('type') is None  # mmengine's plain OptimWrapper
    precision, wrapper = resolved(name, False, monkeypatch)
    assert precision == 'fp32' and (wrapper is None or wrapper.get('type') is None)


def test_one_option_forces_either(monkeypatch):
    assert resolved('maple/base2novel_dtd.py', True, monkeypatch, 'fp32')[1].get('type') is None
    precision, wrapper = resolved('vpt/base2novel_dtd.py', False, monkeypatch, 'fp16')
    assert (precision, wrapper.type, wrapper.precision) == ('fp16', MIXED, 'fp16')
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda including_emulation=True: False)
    assert resolved('maple/base2novel_dtd.py', True, monkeypatch, 'amp')[0] == 'fp16'
    assert run_precision('amp', 'cpu') == 'bf16'


def test_a_table_by_device_and_its_errors():
    assert run_precision(dict(cuda='bf16'), 'cuda') == 'bf16'
    assert run_precision(dict(cuda='bf16'), 'npu') == 'fp32'  # a device it does not name
    with pytest.raises(ConfigError, match=r"precision must be one of fp32, fp16, bf16, amp"):
        run_precision(dict(cuda='half'), 'cuda')
