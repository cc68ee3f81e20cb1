"""Each method folder documents itself: README.md and an mmpretrain metafile.yml whose
published numbers are those of maple_mm/evaluation/published.py."""
import re

import pytest
import yaml

from maple_mm.datasets.catalog import BENCHMARKS, display_name
from maple_mm.evaluation.published import (BASE2NOVEL, BASE2NOVEL_AVERAGE, COOP_TABLE1,
                                           CROSS_DATASET, DOMAIN_GENERALIZATION,
                                           DOMAIN_GENERALIZATION_BY_BACKBONE)
from ..conftest import REPO_ROOT
from .zoo import CONFIGS, METHODS, leaf_configs


@pytest.mark.parametrize('folder', METHODS)
def test_metafile(folder):
    meta = yaml.safe_load((CONFIGS / folder / 'metafile.yml').read_text())
    method = METHODS[folder]
    (collection, ) = meta['Collections']
    assert collection['Name'] == method
    assert collection['README'] == f'configs/{folder}/README.md'
    assert collection['Paper']['URL'].startswith('https://arxiv.org/abs/')
    configs = [m['Config'] for m in meta['Models'] if 'Config' in m]
    assert sorted(configs) == sorted(str(p.relative_to(REPO_ROOT)) for p in leaf_configs(folder))
    published = {}
    for model in meta['Models']:
        assert model['In Collection'] == method and 'Weights' not in model
        for result in model['Results'] or []:
            assert result['Task'] == 'Image Classification'
            published[model.get('Config'), result['Dataset']] = result['Metrics']
    expected = {}
    for key, (base, novel, hm) in BASE2NOVEL.get(method, {}).items():
        expected[f'configs/{folder}/base2novel_{key}.py',
                 display_name(key)] = dict(
                     Base=base, Novel=novel, HM=hm)
    average = BASE2NOVEL_AVERAGE[method]
    expected[None, 'Base-to-novel average (11 datasets)'] = {
        k: v
        for k, v in zip(('Base', 'Novel', 'HM'), average) if v is not None
    }
    if method in CROSS_DATASET:
        xd = f'configs/{folder}/cross_dataset_imagenet.py'
        expected[xd, 'ImageNet'] = {'Top 1 Accuracy': CROSS_DATASET[method]['imagenet']}
        expected[xd, 'Mean of the 10 target datasets'] = {
            'Top 1 Accuracy': CROSS_DATASET[method]['target_average']
        }
        dg = f'configs/{folder}/domain_generalization_imagenet.py'
        for key, value in DOMAIN_GENERALIZATION[method].items():
            expected[dg, display_name(key)] = {'Top 1 Accuracy': value}
    # Rows of other CLIPs' tables (CoOp's Table 1) that a config of this folder reproduces as
    # it is (M=4 needs an option: not a config's number).
    for rows in DOMAIN_GENERALIZATION_BY_BACKBONE.values():
        for row in rows:
            if row.config and row.config.startswith(f'configs/{folder}/') and not row.options:
                for key, value in row.numbers.items():
                    expected[row.config, display_name(key)] = {'Top 1 Accuracy': value}
    assert published == expected


@pytest.mark.parametrize('folder', METHODS)
def test_readme(folder):
    text = (CONFIGS / folder / 'README.md').read_text()
    method = METHODS[folder]
    assert re.search(r'^> \[.+\]\(https://arxiv\.org/abs/.+\)', text, re.M)
    for source in re.findall(
            r'^# Source: (\S+)',
            '\n'.join(p.read_text()
                      for p in (CONFIGS / '_base_' / 'recipes').glob(f'{folder}_*.py')), re.M):
        assert source.split('{')[0] in text  # each recipe's source is named
    rows = {
        m[0]: tuple(float(v) for v in m[1:])
        for m in re.findall(r'^\| ([\w ()]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$', text, re.M)
    }
    average = BASE2NOVEL_AVERAGE[method]
    if method in BASE2NOVEL:
        expected = {BENCHMARKS[k].name: v for k, v in BASE2NOVEL[method].items()}
        expected['Average (11)'] = average
        assert rows == expected
    else:
        assert not rows and f'HM {average[2]:.2f}' in text
    assert f'configs/{folder}/' in text  # its commands


@pytest.mark.parametrize('folder', ['coop', 'zero_shot_clip'])
def test_readme_prints_the_coop_table1_rows_of_its_method(folder):
    """The CoOp paper's Table 1 on 4 CLIPs, as published.py holds it."""
    text = (CONFIGS / folder / 'README.md').read_text()
    rows = re.findall(r'^\| ([\w-]+) \| (16|4|-) \|((?: [\d.]+ \|){5})$', text, re.M)
    printed = {
        (clip, m): [float(v) for v in values.strip(' |').split(' | ')]
        for clip, m, values in rows
    }
    expected = {
        (backbone, row.setting[2:] or '-'): [
            row.numbers[k]
            for k in ('imagenet', 'imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r')
        ]
        for backbone, published in DOMAIN_GENERALIZATION_BY_BACKBONE.items()
        for row in published if row.source == COOP_TABLE1 and row.method == METHODS[folder]
    }
    assert printed == expected and len(expected) == (8 if folder == 'coop' else 4)
