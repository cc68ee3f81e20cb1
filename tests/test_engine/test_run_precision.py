"""Which precision a shipped recipe trains and tests in, by device (no GPU needed).

Each recipe's precision on CUDA is its method's rows' (the reference trainer's
``PREC``, or fp32 where its code trains in fp32; a method that learns nothing
tests in fp32): fp16 mixed precision or fp32 on CUDA, fp32 on CPUs;
``--precision`` forces one.
"""
import copy

import pytest
import torch

from maple_mm.engine.optimizers.mixed_precision_optim_wrapper import apply_run_precision
from maple_mm.engine.optimizers.precision import run_precision
from maple_mm.errors import ConfigError
from ..method_rows import method_rows, recipe, trained_folders
from ..test_configs.zoo import CONFIGS, built

MIXED = 'MixedPrecisionOptimWrapper'


def resolved(name: str, cuda: bool, monkeypatch, precision=None):
    """The config's optim_wrapper and precision after MapleRunner's resolution."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    cfg = copy.deepcopy(built(CONFIGS / name))
    if precision is not None:
        cfg.precision = precision  # what --precision sets
    return apply_run_precision(cfg), cfg.get('optim_wrapper')


def recipes_by_precision():
    """Each method's configs of every protocol, with the precision their rows say."""
    for folder, rows in method_rows().items():
        for protocol, dataset in (('base2novel', 'dtd'), ('few_shot', 'eurosat'), ('cross_dataset',
                                                                                   'imagenet')):
            if protocol in rows.recipes:
                yield (f'{folder}/{protocol}_{dataset}.py', recipe(folder, protocol,
                                                                   dataset).precision)


@pytest.mark.parametrize('name,on_cuda', recipes_by_precision())
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
    fp32 = next(name for name, on_cuda in recipes_by_precision()
                if on_cuda == 'fp32' and name.split('/')[0] in trained_folders())  # trains in fp32
    precision, wrapper = resolved(fp32, False, monkeypatch, 'fp16')
    assert (precision, wrapper.type, wrapper.precision) == ('fp16', MIXED, 'fp16')
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda including_emulation=True: False)
    assert resolved('maple/base2novel_dtd.py', True, monkeypatch, 'amp')[0] == 'fp16'
    assert run_precision('amp', 'cpu') == 'bf16'


def test_a_table_by_device_and_its_errors():
    assert run_precision(dict(cuda='bf16'), 'cuda') == 'bf16'
    assert run_precision(dict(cuda='bf16'), 'npu') == 'fp32'  # a device it does not name
    with pytest.raises(ConfigError, match=r"precision must be one of fp32, fp16, bf16, amp"):
        run_precision(dict(cuda='half'), 'cuda')
