"""Each method folder documents itself: README.md and an mmpretrain metafile.yml whose
published numbers are those of maple_mm/evaluation/published.py."""
import re

import pytest
import yaml

from maple_mm.datasets.catalog import BENCHMARKS, display_name
from maple_mm.evaluation.published import (BASE2NOVEL, BASE2NOVEL_AVERAGE, CROSS_DATASET,
                                           DOMAIN_GENERALIZATION)
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
