"""docs/model-zoo.md: every convert-and-test command pair, on files written as the reference
writes its released prompts.

For each ``reference_to_mm.py IN OUT`` command of the page (its ``<clip>`` and ``<dataset>``
placeholders expanded; seed 1), a Dassl checkpoint is written at IN in the format of its
folder layout (a ``prompt_learner/`` folder: the prompt learner alone; a
``MultiModalPromptLearner/`` or ``VLPromptLearner/`` one: the whole model with some frozen
CLIP tensors; at the real ViT-B/16 / CLIP widths and the shapes of the config the page tests
it with), converted with the page's command, and the converted prompts must fit the model
that the page's ``tools/test.py CONFIG OUT [--cfg-options ...]`` builds. The RN50 prompts of
the CoOp paper's Table 1 then go through that test command for real, on miniature ImageNet
and its variants with a randomly initialised RN50. Nothing is downloaded.
"""
import argparse
import itertools
import json
import re
import shlex

import pytest
import torch
from mmengine.config import Config, DictAction

from maple_mm.checkpoints.reference_converter import reference_layouts
from maple_mm.datasets.catalog import BASE_TO_NOVEL, BENCHMARKS
from maple_mm.evaluation.published import PER_SET_ROWS
from ..conftest import REPO_ROOT, load_tool
from ..miniature_datasets import write_miniature
from ..test_docs import commands
from .test_reference_to_mm import save_reference_checkpoint

PAGE = REPO_ROOT / 'docs' / 'model-zoo.md'
CONVERTER = 'tools/model_converters/reference_to_mm.py'
#: What the placeholders of the page stand for (one seed: the files differ only in values).
PLACEHOLDERS = {
    '<clip>': ('rn50', 'rn101', 'vit_b32', 'vit_b16'),
    '<S>': ('1', ),
    '<dataset>': BASE_TO_NOVEL,
}
#: The widths of OpenAI's CLIPs: text width of every CLIP here, vision width of ViT-B/16.
TEXT_WIDTH, VIT_B16_WIDTH = 512, 768
converter = load_tool(CONVERTER)
test_tool = load_tool('tools/test.py')
pytestmark = pytest.mark.usefixtures('one_thread')


def page_pairs():
    """(converter argv, [test argv, ...]) of the page, placeholders as written."""
    pairs = []
    for _, command in commands(PAGE):
        argv = shlex.split(command)
        if argv[:2] == ['python', CONVERTER]:
            pairs.append((argv[2:], []))
        elif argv[:2] == ['python', 'tools/test.py']:
            assert pairs and argv[3] == pairs[-1][0][-1], f'{command}: tests no converted file'
            pairs[-1][1].append(argv[2:])
    return pairs


def expanded(pairs):
    """Every pair with its placeholders replaced, each once."""
    for convert, tests in pairs:
        text = ' '.join(convert + [' '.join(t) for t in tests])
        names = [p for p in PLACEHOLDERS if p in text]
        for values in itertools.product(*(PLACEHOLDERS[p] for p in names)):

            def fill(argv):
                out = []
                for token in argv:
                    for name, value in zip(names, values):
                        token = token.replace(name, value)
                    out.append(token)
                return out

            yield fill(convert), [fill(t) for t in tests]


def test_the_page_pairs_every_conversion_with_a_test_and_covers_the_released_sets():
    pairs = page_pairs()
    assert len(pairs) == 7 and all(tests for _, tests in pairs)
    layouts = [convert[-2] for convert, _ in pairs]
    assert sum('/prompt_learner/' in p for p in layouts) == 2  # the prompt learner alone
    assert sum('MultiModalPromptLearner' in p for p in layouts) == 2
    assert sum('VLPromptLearner' in p for p in layouts) == 3
    # The numbers to reproduce: those published for each config the page tests with.
    text = PAGE.read_text()
    configs = {test[0] for _, tests in expanded(pairs) for test in tests}
    rows = [
        row for by_clip in PER_SET_ROWS.values() for clip_rows in by_clip.values()
        for row in clip_rows if row.config in configs
    ]
    assert len([row for row in rows if row.setting]) == 8  # 4 CLIPs, M=16 and M=4
    for row in rows:
        numbers = [f'{value:.2f}' for value in row.numbers.values()]
        assert all(number in text for number in numbers), row.config
        if row.setting:  # a table row of the page
            assert ' | '.join(numbers) in text, row.config


def config_of(argv) -> Config:
    """The config a ``tools/test.py CONFIG OUT [--cfg-options ...]`` command builds."""
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = parser.parse_args(argv)
    cfg = Config.fromfile(REPO_ROOT / args.config, import_custom_modules=False)
    cfg.merge_from_dict(args.cfg_options)
    return cfg


def _randn(*shape, dtype=torch.float32):
    return (torch.randn(*shape) * 0.02).to(dtype)


def reference_key(ours: str) -> str:
    """The reference's key of one of maple_mm's keys, as the methods' layouts declare it."""
    from maple_mm.checkpoints.reference_layout import Tensor
    return next(rule.reference for layout, _ in reference_layouts().values()
                for rule in layout.rules if isinstance(rule, Tensor) and rule.ours == ours)


def reference_state_dict(layout: str, learner: dict) -> dict:
    """The ``state_dict`` the reference saves for the layout, at the config's prompt shapes."""
    if '/prompt_learner/' in layout:  # the prompt learner alone (ctx, token buffers)
        n_ctx = int(re.search(r'/nctx(\d+)_', layout)[1])
        half = torch.float16
        return dict(
            ctx=_randn(n_ctx, TEXT_WIDTH, dtype=half),
            token_prefix=_randn(10, 1, TEXT_WIDTH, dtype=half),
            token_suffix=_randn(10, 76 - n_ctx, TEXT_WIDTH, dtype=half))
    frozen = {
        'logit_scale': torch.tensor(4.6052),
        'image_encoder.class_embedding': _randn(VIT_B16_WIDTH, dtype=torch.float16),
        'text_encoder.positional_embedding': _randn(77, TEXT_WIDTH, dtype=torch.float16),
    }
    if 'MultiModalPromptLearner' in layout:
        n, depth = learner['n_ctx'], learner['depth']
        sd = {
            'prompt_learner.ctx': _randn(n, TEXT_WIDTH, dtype=torch.float16),
            'prompt_learner.proj.weight': _randn(VIT_B16_WIDTH, TEXT_WIDTH, dtype=torch.float16),
            'prompt_learner.proj.bias': _randn(VIT_B16_WIDTH, dtype=torch.float16),
        }
        for i in range(depth - 1):
            sd[f'prompt_learner.compound_prompts_text.{i}'] = _randn(n, TEXT_WIDTH)
            sd[f'prompt_learner.compound_prompt_projections.{i}.weight'] = _randn(
                VIT_B16_WIDTH, TEXT_WIDTH)
            sd[f'prompt_learner.compound_prompt_projections.{i}.bias'] = _randn(VIT_B16_WIDTH)
        return dict(sd, **frozen)
    assert 'VLPromptLearner' in layout, layout
    sd = {
        'prompt_learner.ctx': _randn(learner['n_ctx_text'], TEXT_WIDTH, dtype=torch.float16),
        reference_key('prompt_learner.vision_ctx'): _randn(learner['n_ctx_vision'], VIT_B16_WIDTH),
        'prompt_learner.ZS_image_encoder.class_embedding': _randn(VIT_B16_WIDTH),
    }
    for i in range(1, learner['depth_vision']):
        sd[f'image_encoder.transformer.resblocks.{i}.VPT_shallow'] = _randn(
            learner['n_ctx_vision'], VIT_B16_WIDTH)
    for i in range(1, learner['depth_text']):
        sd[f'text_encoder.transformer.resblocks.{i}.VPT_shallow'] = _randn(
            learner['n_ctx_text'], TEXT_WIDTH)
    return dict(sd, **frozen)


def convert_as_the_page_says(convert, tests, root, monkeypatch, capsys):
    """Write the reference file of ``convert`` under ``root`` and run the page's command."""
    *options, source, target = convert
    configs = [config_of(t) for t in tests]
    learner = configs[0].model.prompt_learner
    epoch = int(source.rsplit('-', 1)[1])
    path = root / source
    path.parent.mkdir(parents=True, exist_ok=True)
    save_reference_checkpoint(path, reference_state_dict(source, learner), monkeypatch, epoch=epoch)
    out = root / target
    out.parent.mkdir(parents=True, exist_ok=True)
    converter.main([*options, str(path), str(out)])
    return out, configs, capsys.readouterr().out


def test_every_command_pair_of_the_page(tmp_path, monkeypatch, capsys):
    done = 0
    for convert, tests in expanded(page_pairs()):
        out, configs, printed = convert_as_the_page_says(convert, tests, tmp_path, monkeypatch,
                                                         capsys)
        meta = torch.load(out, map_location='cpu', weights_only=True)['meta']
        assert meta['text_width'] == TEXT_WIDTH and 'WARNING' not in printed, convert
        for cfg in configs:  # the converted prompts fit the model the test command builds
            learner = cfg.model.prompt_learner
            assert cfg.model.type == reference_layouts()[meta['method']][1]
            for key, value in meta.items():
                if key in learner:
                    assert learner[key] == value, (convert, key)
            if 'vision_width' in meta:
                assert meta['vision_width'] == VIT_B16_WIDTH
                assert cfg.model.backbone.model_name == 'ViT-B-16'
            if 'clip' in meta:  # the CLIP its run folders name is the config's
                assert meta['clip'] == cfg.model.backbone.model_name
                assert f"{meta['clip']} with pretrained='openai': its run folder" in printed
        done += 1
    assert done == 4 + 4 + 11 + 1 + 11 + 1 + 11


def test_the_rn50_prompts_through_the_test_command(tmp_path, monkeypatch, capsys):
    """The page's RN50 pair end to end: convert, then tools/test.py on ImageNet and its 4
    variants (miniatures, a randomly initialised RN50 instead of OpenAI's weights)."""
    convert, (test, ) = next(
        (c, t) for c, t in expanded(page_pairs()) if '/rn50_ep50_16shots/nctx16_' in c[-2])
    out, _, _ = convert_as_the_page_says(convert, [test], tmp_path, monkeypatch, capsys)
    data = tmp_path / 'data'
    for key in ('imagenet', 'imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r'):
        write_miniature(data, key, num_classes=4, images_per_class=1, image_size=64)
    cfg = config_of(test)
    roots = [f'test_dataloader.dataset.data_root={data}/{BENCHMARKS["imagenet"].folder}'] + [
        f'test_cfg.extra_sets.{key}.data_root={data}/{BENCHMARKS[key].folder}'
        for key in cfg.test_cfg.extra_sets
    ]
    work = tmp_path / 'work'
    test_tool.main([
        test[0],
        str(out), '--work-dir',
        str(work), '--cfg-options', 'model.backbone.pretrained=None',
        'test_dataloader.num_workers=0', *roots,
        *(test[test.index('--cfg-options') + 1:] if '--cfg-options' in test else [])
    ])
    (metrics, ) = work.glob('*/test_metrics.json')
    content = json.loads(metrics.read_text())
    assert content['record']['backbone'] == 'RN50'
    assert set(content['metrics']) >= {
        f'{k}/accuracy/top1'
        for k in ('imagenet', 'imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r')
    }
