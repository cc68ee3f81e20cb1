"""tools/benchmark.py on the tiny CLIP with small settings.

The tool runs in this process (its start-up costs seconds); by default it measures each
case in a fresh process of its own, which one test checks.
"""
import json

import pytest

from ..conftest import load_tool, run_tool_here_ok
from ..method_rows import trained_folders, untrained_folders
from ..test_configs.zoo import METHODS

pytestmark = pytest.mark.long_running(seconds=35)


def load_benchmark():
    return load_tool('tools/benchmark.py')


def run_here(capfd, *args) -> str:
    """``tools/benchmark.py ARGS`` in this process; its standard output."""
    return run_tool_here_ok(capfd, 'benchmark', *args).out


def test_small_run_prints_both_paths_ratios_and_the_logit_difference(tmp_path, capfd):
    out = tmp_path / 'bench.json'
    # A 0.1 GiB limit: the reference training at 300 classes is estimated, not run.
    table = run_here(capfd, '--model', 'tiny', '--classes', '4', '300', '--steps', '1',
                     '--eval-batches', '1', '--eval-batch', '8', '--threads', '1',
                     '--memory-limit-gib', '0.1', '--in-process', '--json', out)
    for label in ('train step (s)', 'eval images/s', 'train memory', 'eval memory'):
        rows = [line for line in table.splitlines() if line.startswith(label)]
        assert len(rows) == 2, label
    train_300 = next(line for line in table.splitlines()
                     if line.startswith('train step (s)') and ' 300 ' in line)
    assert 'OOM' in train_300 and 'ref OOM' in train_300
    assert 'max |logit difference|' in table
    results = {(r['path'], r['kind'], r['classes']): r for r in json.loads(out.read_text())}
    assert results[('reference', 'train', 300)]['oom']
    assert results[('efficient', 'train', 300)]['finite']
    for classes in (4, 300):
        compared = results[('efficient', 'eval', classes)]
        assert compared['max_text_rel_diff'] < 1e-5
        assert compared['images_per_s'] > 0 and compared['text_s'] > 0


def test_each_measurement_runs_in_a_fresh_process_by_default(tmp_path, capfd):
    out = tmp_path / 'fresh.json'
    untrained = (untrained_folders() or METHODS)[0]  # the quickest
    run_here(capfd, '--model', 'tiny', '--method', untrained, '--classes', '3', '--paths',
             'efficient', '--eval-batches', '1', '--eval-batch', '4', '--threads', '1', '--json',
             out)
    (result, ) = json.loads(out.read_text())
    assert result['peak_mib'] > 0 and result['images_per_s'] > 0


def test_out_of_memory_figures_are_extrapolated_linearly_in_classes():
    bench = load_benchmark()
    assert bench.extrapolate({10: 2.0, 100: 11.0}, 1000) == pytest.approx(101.0)
    assert bench.extrapolate({10: 2.0}, 1000) is None
    results = {
        ('reference', 'train', 10): dict(step_s=2.0, peak_mib=1.0),
        ('reference', 'train', 100): dict(step_s=11.0, peak_mib=2.0),
        ('reference', 'train', 1000): dict(oom=True, note='x'),
        ('efficient', 'train', 1000): dict(step_s=10.1, peak_mib=1.0)
    }
    ref = bench.cell(results, 'reference', 'train', 'step_s', 1000, '.1f')
    eff = bench.cell(results, 'efficient', 'train', 'step_s', 1000, '.1f')
    assert ref == ('OOM/~101.0', pytest.approx(101.0), True)
    assert bench.ratio(ref, eff) == '~10.00x'
    memory = bench.cell(results, 'reference', 'train', 'peak_mib', 1000, '.0f')
    assert bench.ratio(memory, bench.cell(results, 'efficient', 'train', 'peak_mib', 1000,
                                          '.0f')) == 'ref OOM'


def test_every_method_is_measured_on_both_paths_with_equal_logits(tmp_path, capfd):
    out = tmp_path / 'methods.json'
    stdout = run_here(capfd, '--model', 'tiny', '--method', 'all', '--classes', '5', '--steps', '1',
                      '--eval-batches', '1', '--eval-batch', '4', '--threads', '1', '--in-process',
                      '--json', out)
    for method in METHODS:  # every method folder
        assert f'\n{method} benchmark: tiny' in stdout
    results = json.loads(out.read_text())
    trained = {r['method'] for r in results if r['kind'] == 'train'}
    assert trained == set(trained_folders())
    assert all(r['finite'] for r in results if r['kind'] == 'train')
    for method in trained:  # the method's own loss, the same on both paths
        ref, eff = ([
            r['first_loss'] for r in results
            if r['method'] == method and r['kind'] == 'train' and r['path'] == path
        ] for path in ('reference', 'efficient'))
        assert ref == pytest.approx(eff, rel=1e-5), method
    assert 'training loss of the first step' in stdout
    compared = [r for r in results if 'max_logit_diff' in r]
    assert len(compared) == len(METHODS) and all(r['max_logit_diff'] < 1e-4 for r in compared)
    assert all(r['max_text_rel_diff'] < 1e-5 for r in compared)


def tpt_methods() -> list:
    """Folders of methods TPT tunes (its metafile's): one that learns nothing (TPT+CLIP: the
    context its config builds), a text-prompting one and the example (vision prompts too)."""
    from maple_mm.method_zoo import metafiles, test_time_folders, tuned_methods
    folders = {method: folder for folder, method in METHODS.items()}
    tuned = [folders[m] for m in tuned_methods(metafiles()[next(iter(test_time_folders()))])]
    untrained = next(f for f in tuned if f in untrained_folders())
    text = next(f for f in tuned if f in trained_folders() and f != 'maple')
    return [untrained, text, 'maple']


def test_tpt_images_per_second_on_both_paths_with_the_same_predictions(tmp_path, capfd):
    """--kinds tpt: TPT on a method with nothing learned (zero-shot CLIP's "a photo of a"), a
    text-prompting method and MaPLe: images/s on both paths, and the paths' predictions
    compared image by image."""
    out = tmp_path / 'tpt.json'
    methods = tpt_methods()
    table = run_here(capfd, '--model', 'tiny', '--method', *methods, '--kinds', 'tpt', '--classes',
                     '5', '40', '--tpt-views', '7', '--tpt-images', '2', '--warmup', '0',
                     '--threads', '1', '--in-process', '--json', out)
    assert len([line for line in table.splitlines() if line.startswith('TPT images/s')]) == 6
    assert 'train step' not in table and 'eval images/s' not in table
    assert table.count('TPT predictions equal on both paths for 2/2 images') == 6
    results = json.loads(out.read_text())
    assert {(r['method'], r['path'], r['classes'])
            for r in results} == {(m, p, c)
                                  for m in methods
                                  for p in ('reference', 'efficient')
                                  for c in (5, 40)}
    for method in methods:
        for classes in (5, 40):
            ref, eff = (
                next(r for r in results
                     if r['method'] == method and r['path'] == p and r['classes'] == classes)
                for p in ('reference', 'efficient'))
            assert ref['predictions'] == eff['predictions']
            assert max(
                abs(a - b) for x, y in zip(ref['logits'], eff['logits'])
                for a, b in zip(x, y)) < 1e-4
            assert eff['images_per_s'] > 0


def test_tpt_throughput_of_an_oom_reference_comes_from_its_extrapolated_time():
    bench = load_benchmark()
    results = {
        ('reference', 'tpt', 10): dict(image_s=500.0, images_per_s=1 / 500),
        ('reference', 'tpt', 100): dict(image_s=950.0, images_per_s=1 / 950),
        ('reference', 'tpt', 1000): dict(oom=True, note='x'),
    }
    text, value, estimate = bench.cell(results, 'reference', 'tpt', 'images_per_s', 1000, '.6f')
    assert estimate and value == pytest.approx(1 / 5450)  # 950 s + 900 x 5 s per class
