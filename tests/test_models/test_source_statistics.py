"""PromptAlign's source statistics: the two passes, the file, and one error per bad file."""
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

from maple_mm.errors import SourceStatisticsError
from maple_mm.models import TINY_CLIP_CFG
from maple_mm.models.test_time.source_statistics import (block_inputs, compute_source_statistics,
                                                         expected_layout, load_source_statistics,
                                                         save_source_statistics)
from ..conftest import REPO_ROOT, load_tool, write_split_dataset


@pytest.fixture(scope='module')
def maple():
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='MaPLe',
            backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG),
            prompt_learner=dict(type='MaPLePromptLearner', n_ctx=2, depth=3),
            class_names=['a', 'b'])).eval()


def batches_of(*sizes, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = [torch.randn(n, 3, 32, 32, generator=generator) for n in sizes]
    return lambda: iter(images)


def test_layout_is_blocks_tokens_width_of_the_prompted_tower(maple):
    # tiny CLIP: 4 vision blocks, 1 + 4 x 4 patches + 2 prompt tokens, width 48
    assert expected_layout(maple) == (4, 19, 48)
    inputs = block_inputs(maple, torch.randn(3, 3, 32, 32))
    assert [tuple(x.shape) for x in inputs] == [(3, 19, 48)] * 4
    # block 1's input holds the first deep vision prompt in the last 2 positions
    prompt = maple.prompt_learner().deep_vision[0]
    torch.testing.assert_close(inputs[1][0, -2:], prompt)


def test_two_passes_give_the_exact_mean_and_biased_variance(maple):
    batches = batches_of(3, 2, 4)
    seen = []
    mean, var, count = compute_source_statistics(maple, batches, seen.append)
    assert count == 9 and seen == [3, 2, 4, 3, 2, 4]  # both passes report
    with torch.no_grad():
        stacked = torch.cat([torch.stack(block_inputs(maple, x), dim=1) for x in batches()])
    stacked = stacked.double()  # (N, L, T, D)
    torch.testing.assert_close(mean, stacked.mean(dim=0).float())
    torch.testing.assert_close(var, stacked.var(dim=0, unbiased=False).float())
    # prompt tokens where they are put in (blocks 0 .. depth - 1) are the same in every image
    assert float(var[:3, -2:].abs().max()) < 1e-10 < float(var[3, -2:].abs().max())


def save(path, mean, var):
    save_source_statistics(str(path), mean, var, 9, dict(type='MaPLe'), 'toy train')
    return str(path)


def test_round_trip_and_one_error_per_bad_file(maple, tmp_path):
    layers, tokens, width = expected_layout(maple)
    mean, var = torch.randn(layers, tokens, width), torch.rand(layers, tokens, width)
    good = save(tmp_path / 'good.pth', mean, var)
    loaded = load_source_statistics(good, maple)
    assert torch.equal(loaded[0], mean) and torch.equal(loaded[1], var)
    cases = {
        'blocks': (save(tmp_path / 'l.pth', mean[:3], var[:3]), 'statistics of 3 vision blocks, '
                   "but this model's prompted vision tower has 4"),
        'tokens': (save(tmp_path / 't.pth', mean[:, :-1],
                        var[:, :-1]), 'statistics of 18 tokens, but .* has 19'),
        'width': (save(tmp_path / 'w.pth', mean[..., :32],
                       var[..., :32]), 'statistics of 32 width, but .* has 48'),
        'nan': (save(tmp_path / 'n.pth', mean * float('nan'), var), 'NaN or Inf'),
        'negative': (save(tmp_path / 'v.pth', mean, -var), 'negative variances'),
        'shapes': (save(tmp_path / 's.pth', mean, var[:2]), 'differ in shape'),
    }
    (tmp_path / 'text.pth').write_text('means: 0.5\n')
    cases['text'] = (str(tmp_path / 'text.pth'), 'is a text file, not a checkpoint')
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes((tmp_path / 'good.pth').read_bytes()[:5000])
    cases['truncated'] = (str(truncated), 'is truncated or damaged')
    torch.save({'mean': mean}, tmp_path / 'other.pth')
    cases['format'] = (str(tmp_path / 'other.pth'), 'is not a maple_mm source statistics file')
    torch.save({'format': 'maple_mm.source_statistics', 'version': 9}, tmp_path / 'v9.pth')
    cases['version'] = (str(tmp_path / 'v9.pth'), 'version 9 source statistics file')
    torch.save(
        dict(format='maple_mm.source_statistics', version=1, mean=Config(), var=var),
        tmp_path / 'pickled.pth')
    cases['pickled'] = (str(tmp_path / 'pickled.pth'), 'pickles Python objects besides tensors')
    cases['missing'] = (str(tmp_path / 'none.pth'), 'does not exist')
    for name, (path, message) in cases.items():
        with pytest.raises(SourceStatisticsError, match=message) as info:
            load_source_statistics(path, maple)
        text = str(info.value)
        assert '\n' not in text and 'tools/source_statistics.py' in text, name


def test_a_mismatched_file_stops_the_test_with_one_line(tmp_path):
    """tools/test.py on a PromptAlign config whose statistics were made for another CLIP."""
    from ..test_tools.test_train_test_e2e import tiny_config
    _cli = load_tool('tools/_cli.py')
    test_tool = load_tool('tools/test.py')
    data = write_split_dataset(tmp_path / 'toy', train=1, val=1, test=1)
    cfg = Config.fromfile(tiny_config(tmp_path, data))
    statistics = save(tmp_path / 'stats.pth', torch.zeros(4, 17, 48), torch.ones(4, 17, 48))
    cfg.test_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='TestTimeViews', num_views=3, size=32),
        dict(type='PackInputs')
    ]
    cfg.test_cfg = dict(
        type='TestTimeTuningLoop',
        name='base',
        extra_sets=dict(novel=dict(subsample='novel')),
        tuning=dict(alignment=dict(layers=(0, 1), weight=100 / 3)))
    cfg.source_statistics = dict(file=statistics)
    config = tmp_path / 'promptalign.py'
    cfg.dump(config)
    model = MODELS.build(cfg.model)
    checkpoint = tmp_path / 'maple.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    with pytest.raises(SystemExit) as exit_info:
        _cli.run_cli(
            test_tool.main,
            [str(config), str(checkpoint), '--work-dir',
             str(tmp_path / 'work')])
    assert str(exit_info.value.code) == (
        f'error: {statistics} holds statistics of 17 tokens, but this model\'s prompted vision '
        'tower has 19 (blocks, tokens, width = (4, 19, 48); the file: (4, 17, 48)): it was made '
        'for another CLIP or number of prompt tokens; compute it for this model with '
        'tools/source_statistics.py.')
    assert REPO_ROOT.is_dir()
