"""configs/tpt/ and configs/promptalign/: their recipes against the references' files, and
runs through tools/test.py and tools/source_statistics.py on miniature data.

Reference files: azshue/TPT @63ecbac ``tpt_classification.py`` (tc.py), ``data/datautils.py``;
jameelhassan/PromptAlign @9290564 ``configs/trainers/PromptAlign/DG_PAlign_vit_b16_c2_ep5_
batch4_2ctx_cross_datasets.yaml`` (DG yaml) and ``finegrain_PAlign_...yaml``.
"""
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

from maple_mm.datasets.catalog import IMAGENET_VARIANTS
from ..conftest import REPO_ROOT, load_tool, run_tool_here, write_split_file
from .tiny_runs import fast_cpu_runs, load, tiny, write_miniatures  # noqa: F401
from .zoo import CONFIGS, DATASETS

TPT = sorted((CONFIGS / 'tpt').glob('*_imagenet.py'))
PROMPTALIGN = sorted((CONFIGS / 'promptalign').glob('*_imagenet.py'))
TARGETS = [d for d in DATASETS if d != 'imagenet']
TOP1 = 'accuracy/top1'
#: The method each TPT config runs on, and the model recipe it takes.
BASES = {
    'clip': ('ZeroShotCLIP+TPT', 'coop'),
    'coop': ('CoOp+TPT', 'coop'),
    'cocoop': ('CoCoOp+TPT', 'cocoop'),
    'kgcoop': ('KgCoOp+TPT', 'kgcoop'),
    'maple': ('MaPLe+TPT', 'maple'),
}


def views_of(pipeline) -> dict:
    (views, ) = [t for t in pipeline if t['type'] == 'TestTimeViews']
    return views


def sets(cfg) -> dict:
    """Set name -> its TestTimeViews (the main set's pipeline unless the set has its own)."""
    main = views_of(cfg.test_dataloader.dataset.pipeline)
    found = {cfg.test_cfg.name: main}
    for name, fields in cfg.test_cfg.extra_sets.items():
        found[name] = views_of(fields['pipeline']) if 'pipeline' in fields else main
    return found


@pytest.mark.parametrize('path', TPT + PROMPTALIGN, ids=lambda p: f'{p.parent.name}/{p.stem}')
def test_recipes_are_the_references(path):
    cfg = Config.fromfile(path)
    folder, stem = path.parent.name, path.stem
    protocol = 'domain_generalization' if 'domain_generalization' in stem else 'cross_dataset'
    assert cfg.get('protocol', 'cross_dataset') == protocol
    loop = cfg.test_cfg
    assert loop.type == 'TestTimeTuningLoop' and cfg.test_dataloader.batch_size == 1  # tc.py:216
    assert cfg.train_dataloader is None and cfg.optim_wrapper is None  # nothing trained
    assert cfg.precision == dict(cuda='fp16', cpu='fp32')  # autocast + GradScaler, tc.py:62,149
    expected_sets = [
        'imagenet', *(IMAGENET_VARIANTS if protocol == 'domain_generalization' else TARGETS)
    ]
    views = sets(cfg)
    assert list(views) == expected_sets
    assert loop.averages == dict(target_average=expected_sets[1:])
    for name, view in views.items():
        # 63 views + the original, 224 pixels (tc.py:164-173, -b 64)
        assert (view['num_views'], view['size']) == (63, 224)
        # TPT: AugMix for every set but the ImageNet family (tc.py:171-172); PromptAlign and
        # TPT+MaPLe as PromptAlign runs it: never (pa.py:515, spec P3).
        augmix = folder == 'tpt' and not stem.startswith('maple') and name in TARGETS
        assert view.get('augmix', False) is augmix, name
    tuning = dict(loop.tuning)
    assert (tuning['weight_decay'], tuning['steps'], tuning['selection']) == (0.01, 1, 0.1)
    assert tuning['params'] == 'all'
    set_tuning = loop.get('set_tuning') or {}
    if folder == 'promptalign' or stem.startswith('maple'):
        # MaPLe's ImageNet cross-dataset prompts: 2 tokens, depth 3 (DG yaml:31-36)
        assert cfg.model.prompt_learner.n_ctx == 2 and cfg.model.prompt_learner.depth == 3
        lrs = {name: (set_tuning.get(name) or tuning)['lr'] for name in expected_sets}
        # DG yaml:40 (4e-2, the ImageNet family), finegrain yaml:40 (5e-4)
        assert lrs == {
            name: 4e-2 if name == 'imagenet' or name in IMAGENET_VARIANTS else 5e-4
            for name in expected_sets
        }
        alignment = tuning.get('alignment')
        if folder == 'promptalign':
            # ALIGN_LAYER_FROM 0, TO 3, DISTR_LOSS_W 100: blocks range(0, 2), weight 100 / 3
            assert alignment == dict(layers=(0, 1), weight=pytest.approx(100 / 3))
        else:
            assert alignment is None
    else:
        assert tuning['lr'] == 5e-3 and not set_tuning  # tc.py:323
        method, recipe = BASES[stem.split('_')[0]]
        assert loop.get('tuned_method', cfg.model.type) + '+TPT' == method
        assert cfg.model.type == Config.fromfile(CONFIGS / '_base_' / 'models' /
                                                 f'{recipe}.py').model.type
        learner = cfg.model.prompt_learner
        if stem == 'coop_domain_generalization_rn50_imagenet':
            # TPT's RN50 CoOp: CoOp's released 4-token RN50 prompts (tc.py:113-119, n_ctx 4),
            # the context of the CoOp paper's M=4 config, which the checkpoint overwrites
            coop = Config.fromfile(CONFIGS / 'coop' /
                                   'domain_generalization_rn50_nctx4_imagenet.py')
            assert learner == coop.model.prompt_learner and learner.n_ctx == 4
            assert cfg.model.backbone == coop.model.backbone
        elif recipe in ('coop', 'cocoop'):
            # TPT's CLIP and CoOp/CoCoOp weights: 4 context tokens from "a photo of a"
            # (test_tpt.sh --ctx_init a_photo_of_a; tc.py:113-119 n_ctx 4)
            assert (learner.n_ctx, learner.ctx_init) == (4, 'a photo of a')
        # TPT's README table is RN50's (scripts/test_tpt.sh -a RN50); the others ViT-B/16's
        clip = 'RN50' if '_rn50_' in stem else 'ViT-B-16'
        assert cfg.model.backbone.model_name == clip
    assert 'method' not in cfg  # the row follows from the model type and the loop
    # TPT+CLIP tunes the context it builds: no checkpoint (tools/test.py), zero-shot CLIP's row.
    assert (loop.get('tuned_method') == 'ZeroShotCLIP') is stem.startswith('clip')


def test_source_statistics_come_from_imagenet_train_through_the_test_transform():
    cfg = Config.fromfile(PROMPTALIGN[0])
    section = cfg.source_statistics
    assert section.dataset.type == 'CoOpImageNet' and section.dataset.split == 'train'
    assert section.pipeline is None  # the config's test_pipeline
    assert section.file.endswith('.pth')


# -- runs on miniature data --------------------------------------------------------------------


@pytest.fixture(scope='module', autouse=True)
def _fast(fast_cpu_runs):  # noqa: F811
    yield


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = write_miniatures(tmp_path_factory.mktemp('data'))
    # The demo's Fashion-MNIST layout: 6 classes (3 base, 3 novel), 2 validation images each.
    write_split_file(
        root / 'fashion_mnist', {
            split: [[f'{name}/{split}_{i}.png', label, name]
                    for label, name in enumerate(['shirt', 'trouser', 'bag', 'coat', 'boot', 'hat'])
                    for i in range(count)]
            for split, count in (('train', 4), ('val', 2), ('test', 2))
        },
        split_file='split_zhou_FashionMNIST.json')
    return root


def write_checkpoint(cfg: Config, path: Path, run: Optional[dict] = None) -> Path:
    """A checkpoint of the config's (tiny) model with prompts away from their init; with
    ``run``, saying that run of the model's method wrote it (as a training run's does)."""
    model = MODELS.build(cfg.model)
    with torch.no_grad():
        for param in model.prompt_learner.parameters():
            param.add_(torch.randn_like(param) * 0.02)
    meta = dict(written_by=dict(method=cfg.model.type, run=run)) if run else dict()
    torch.save(dict(state_dict=model.state_dict(), meta=meta), path)
    return path


def tiny_config(config: Path, data_root: Path, work_dir: Path, name: str) -> Path:
    """The shipped config on the tiny CLIP and the miniatures, logging every iteration."""
    cfg = tiny(load(config), data_root, work_dir)
    cfg.default_hooks.logger.interval = 1
    if cfg.get('source_statistics'):
        cfg.source_statistics.file = str(work_dir / 'statistics.pth')
        cfg.source_statistics.num_workers = 0
        cfg.test_pipeline = [t for t in cfg.test_pipeline]  # the CLIP test transform, 32 pixels
        for transform in cfg.test_pipeline:
            for key in ('scale', 'crop_size'):
                if transform.get(key) == 224:
                    transform[key] = 32
    path = work_dir.parent / f'{name}.py'
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg.dump(path)
    return path


def run_tool(tool: str, *args) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / tool), *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900)
    return proc


def run_here(capfd, tool: str, *args) -> subprocess.CompletedProcess:
    """``run_tool`` in this process (the same path without a process start's imports)."""
    code = run_tool_here(tool, *args)
    out = capfd.readouterr()
    return subprocess.CompletedProcess(tool, 0 if code is None else 1, out.out,
                                       out.err + (f'{code}\n' if isinstance(code, str) else ''))


def metrics_of(work_dir: Path) -> dict:
    (path, ) = work_dir.glob('*/test_metrics.json')
    return json.loads(path.read_text())


@pytest.mark.parametrize('demo', ['tpt/demo_clip_fashion_mnist', 'tpt/demo_maple_fashion_mnist'])
def test_tpt_demos_through_tools_test(demo, data_root, tmp_path, capfd):
    """tools/test.py on the demos prints Base / Novel / HM and a progress line per image
    (the MaPLe demo in a process of its own, the CLIP one in this process)."""
    config = tiny_config(CONFIGS / f'{demo}.py', data_root, tmp_path / 'work', 'demo')
    args = [config, '--work-dir', tmp_path / 'work']
    if 'maple' in demo:
        args.insert(1, write_checkpoint(Config.fromfile(config), tmp_path / 'maple.pth'))
    proc = run_tool('test.py', *args) if 'maple' in demo else run_here(capfd, 'test', *args)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert re.search(r'Top-1 accuracy \(%\): Base [\d.]+ \| Novel [\d.]+ \| HM [\d.]+', out)
    assert "Test-time tuning on set 'novel'" in out
    assert len(re.findall(r'Epoch\(test\) \[\d+/6\]\s+eta:', out)) >= 8  # 6 images a set
    written = metrics_of(tmp_path / 'work')
    assert written['complete'] and set(
        written['metrics']) == {f'base/{TOP1}', f'novel/{TOP1}', 'HM'}


def test_promptalign_demo_reads_the_statistics_the_tool_writes(data_root, tmp_path, capfd):
    """The statistics tool in a process of its own; its refusal to overwrite and the test
    that reads the file in this process."""
    config = tiny_config(CONFIGS / 'promptalign' / 'demo_base2novel_fashion_mnist.py', data_root,
                         tmp_path / 'work', 'promptalign_demo')
    checkpoint = write_checkpoint(Config.fromfile(config), tmp_path / 'maple.pth')
    statistics = tmp_path / 'work' / 'statistics.pth'
    proc = run_tool('source_statistics.py', config, checkpoint)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'Source statistics: {statistics}: 12 images, 4 blocks x 19 tokens x 48 channels' \
        in proc.stdout  # 3 base classes x 4 train images; 1 + 16 patches + 2 prompts; width 48
    assert 'source statistics (2 passes)' not in proc.stdout  # progress goes to stderr
    content = torch.load(statistics, weights_only=True)
    assert content['format'] == 'maple_mm.source_statistics' and content['images'] == 12
    assert not list(statistics.parent.glob('.*.tmp'))
    again = run_here(capfd, 'source_statistics', config, checkpoint)
    assert again.returncode == 1 and again.stderr.strip().splitlines()[-1] == (
        f'error: {statistics} already exists; pass --overwrite to replace it or --out another '
        'file.')
    proc = run_here(capfd, 'test', config, checkpoint, '--work-dir', tmp_path / 'work')
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'x alignment of vision blocks [0, 1]' in out
    assert re.search(r'Top-1 accuracy \(%\): Base [\d.]+ \| Novel [\d.]+ \| HM [\d.]+', out)


@pytest.mark.parametrize(
    'config,row',
    [
        ('tpt/coop_domain_generalization_imagenet', 'CoOp+TPT'),
        ('tpt/coop_domain_generalization_rn50_imagenet', 'CoOp+TPT'),  # on the tiny ResNet CLIP
        ('tpt/clip_cross_dataset_imagenet', 'ZeroShotCLIP+TPT'),
        ('tpt/cocoop_domain_generalization_imagenet', 'CoCoOp+TPT'),
        ('promptalign/domain_generalization_imagenet', 'PromptAlign'),
    ])
def test_zoo_configs_run(config, row, data_root, tmp_path):
    """DG and cross-dataset TPT configs (AugMix on the targets), TPT+CoCoOp and PromptAlign, in
    this process: every set tested, the prompts as loaded afterwards, and the run recorded as
    its own row (not as a test of the checkpoint's run, whose variant it names)."""
    from mmpretrain.registry import RUNNERS
    path = tiny_config(CONFIGS / f'{config}.py', data_root, tmp_path / 'work', config)
    cfg = Config.fromfile(path)
    for fields in cfg.test_cfg.extra_sets.values():  # the AugMix pipelines of the targets
        for transform in fields.get('pipeline', []):
            if transform['type'] == 'TestTimeViews':
                transform['num_views'] = 15
    views_of(cfg.test_dataloader.dataset.pipeline)['num_views'] = 15
    checkpoint, trained = None, None
    if not cfg.test_cfg.get('tuned_method'):
        trained = dict(
            method=cfg.model.type,
            dataset='imagenet',
            shots=16,
            seed=2,
            config='cross_dataset_imagenet',
            variant='trained/cross_dataset')
        checkpoint = write_checkpoint(cfg, tmp_path / 'model.pth', trained)
        cfg.load_from = str(checkpoint)
    if 'promptalign' in config:
        cfg.dump(path)
        load_tool('tools/source_statistics.py').main([str(path), str(checkpoint)])
    runner = RUNNERS.build(cfg)
    runner.test()
    written = metrics_of(tmp_path / 'work')
    assert written['complete'] and f'imagenet/{TOP1}' in written['metrics']
    assert 'target_average' in written['metrics']
    record, own = written['record'], f'{config.split("_imagenet")[0]}'
    assert (record['method'], record['protocol']) == (row, cfg.protocol)
    assert record['config'] == Path(config).stem
    assert record['test_time']['method'] == ('PromptAlign' if 'promptalign' in config else 'TPT')
    assert record['test_time']['tuning'] == json.loads(json.dumps(cfg.test_cfg.tuning.to_dict()))
    if trained is None:  # TPT+CLIP: the context the config builds
        assert record['variant'] == own and record['seed'] == cfg.randomness.seed
        assert record['test_time']['tuned']['method'] == 'ZeroShotCLIP'
    else:  # the trained run's identity (seed 2), this run's config and variant
        assert record['variant'] == f'{own} on trained/cross_dataset'
        assert record['seed'] == 2 and record['test_time']['tuned'] == dict(
            method=cfg.model.type, config='cross_dataset_imagenet', variant='trained/cross_dataset')
    learner = runner.model.prompt_learner
    if checkpoint is not None:
        saved = torch.load(checkpoint, weights_only=True)['state_dict']
        for name, value in learner.state_dict().items():
            assert torch.equal(value, saved[f'prompt_learner.{name}']), name
    flags = {p.requires_grad for p in learner.parameters()}
    assert flags == {True}  # the learner's own flags are back


# -- the folders' documents --------------------------------------------------------------------
#: README row label -> method of maple_mm.evaluation.published.
README_LABELS = {
    'CLIP': 'ZeroShotCLIP',
    'TPT+CLIP': 'ZeroShotCLIP+TPT',
    'CoOp': 'CoOp',
    'TPT+CoOp': 'CoOp+TPT',
    'CoCoOp': 'CoCoOp',
    'TPT+CoCoOp': 'CoCoOp+TPT',
    'MaPLe': 'MaPLe',
    'TPT+MaPLe': 'MaPLe+TPT',
    'PromptAlign': 'PromptAlign'
}
OOD = ('imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r', 'target_average')


def test_test_time_folders_are_listed_apart_from_the_trained_methods():
    from maple_mm.method_zoo import method_folders, test_time_folders
    assert test_time_folders(CONFIGS) == {'tpt': 'TPT', 'promptalign': 'PromptAlign'}
    assert not set(test_time_folders(CONFIGS)) & set(method_folders(CONFIGS))


@pytest.mark.parametrize('folder', ['tpt', 'promptalign'])
def test_configs_inherit_at_most_two_levels(folder):
    from .zoo import inheritance_depth
    for path in (CONFIGS / folder).glob('*.py'):
        assert inheritance_depth(path) <= 2, path


#: The READMEs' averages of the MaPLe paper's rows, which it prints without one.
COMPUTED_AVERAGES = {'ZeroShotCLIP': 57.18, 'MaPLe': 60.28}


@pytest.mark.parametrize('folder', ['tpt', 'promptalign'])
def test_metafile_and_readme_carry_the_published_numbers(folder):
    import yaml

    from maple_mm.datasets.catalog import display_name
    from maple_mm.evaluation.published import DOMAIN_GENERALIZATION, per_set_rows
    from maple_mm.method_zoo import test_time_row
    meta = yaml.safe_load((CONFIGS / folder / 'metafile.yml').read_text())
    (collection, ) = meta['Collections']
    assert 'Test-time adaptation' in collection['Metadata']['Training Techniques']
    assert collection['README'] == f'configs/{folder}/README.md'
    configs = sorted(m['Config'] for m in meta['Models'] if 'Config' in m)
    assert configs == sorted(f'configs/{folder}/{p.name}' for p in (CONFIGS / folder).glob('*.py'))
    for model in meta['Models']:
        if 'Config' not in model:  # TPT's RN50 table, kept for RN50 configs
            assert model['Metadata']['CLIP'] == 'RN50' and folder == 'tpt'
            continue
        cfg = Config.fromfile(REPO_ROOT / model['Config'])
        # The method it tunes: the model's, or TPT+CLIP's (CoOp's learner, built, not loaded).
        tuned = cfg.test_cfg.get('tuned_method', cfg.model.type)
        assert model['Metadata']['Tuned Method'] == tuned, model['Name']
        # The published row of this config, on the CLIP it builds (RN50: TPT's own table).
        rows = [
            r for r in per_set_rows(
                cfg.get('protocol', 'cross_dataset'), cfg.model.backbone.model_name)
            if r.config == model['Config']
        ]
        assert all(r.method == test_time_row(tuned, collection['Name']) for r in rows)
        averages = {
            'target_average': 'Mean of the 4 ImageNet variants',
            'average': 'Mean of ImageNet and its 4 variants'
        }
        expected = {
            averages.get(k) or display_name(k): v
            for r in rows
            for k, v in r.numbers.items()
        }
        found = {r['Dataset']: r['Metrics']['Top 1 Accuracy'] for r in model['Results'] or []}
        assert found == expected, model['Name']
    text = (CONFIGS / folder / 'README.md').read_text()
    assert re.search(r'^> \[.+\]\(https://arxiv\.org/abs/.+\)', text, re.M)
    rows = re.findall(
        r'^\| ([\w+]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$', text, re.M)
    assert rows
    for label, *values in rows:
        method = README_LABELS[label]
        published = DOMAIN_GENERALIZATION[method]
        if method in COMPUTED_AVERAGES:  # the MaPLe paper's rows, their averages computed
            published = dict(published, target_average=COMPUTED_AVERAGES[method])
            assert sum(published[k] for k in OOD[:4]) / 4 == pytest.approx(
                published['target_average'], abs=0.005)
        assert [float(v) for v in values] == [published[k] for k in OOD], label
    assert f'configs/{folder}/' in text
    assert not re.search(r'DEMO_\w+', text)  # the demo rows hold measured figures
