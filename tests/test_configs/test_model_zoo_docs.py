"""Each method folder documents itself: README.md and an mmpretrain metafile.yml.

The metafile is the one source of the method's published numbers
(maple_mm/evaluation/published.py reads it); its README prints them and must
agree. A method may have no published numbers: it is listed without them.
"""
import re

import pytest
import yaml

from maple_mm.datasets.catalog import BENCHMARKS
from maple_mm.evaluation.published import BASE2NOVEL, BASE2NOVEL_AVERAGE, PER_SET, published_numbers
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
    assert (REPO_ROOT / collection['Code']['URL']).is_file()  # its module
    configs = [m['Config'] for m in meta['Models'] if 'Config' in m]
    assert sorted(configs) == sorted(str(p.relative_to(REPO_ROOT)) for p in leaf_configs(folder))
    for model in meta['Models']:
        assert model['In Collection'] == method and 'Weights' not in model
        for result in model['Results'] or []:
            assert result['Task'] == 'Image Classification'
    # Every published number of the file is read (nothing it holds is ignored).
    assert published_numbers()  # raises on an entry maple_mm would not read


def test_the_numbers_are_read_from_the_metafiles(tmp_path):
    """Change a metafile and the published numbers change with it: they have one source."""
    (tmp_path / 'configs').mkdir()
    for folder in METHODS:
        (tmp_path / 'configs' / folder).mkdir()
        text = (CONFIGS / folder / 'metafile.yml').read_text()
        (tmp_path / 'configs' / folder / 'metafile.yml'
         ).write_text(text.replace('HM: ', 'HM: 1') if folder == list(METHODS)[0] else text)
    changed = published_numbers(tmp_path / 'configs')
    method = METHODS[list(METHODS)[0]]
    assert changed.base2novel_average[method][2] != BASE2NOVEL_AVERAGE[method][2]
    assert {
        m: v
        for m, v in changed.base2novel_average.items() if m != method
    } == {
        m: v
        for m, v in BASE2NOVEL_AVERAGE.items() if m != method
    }


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
    average = BASE2NOVEL_AVERAGE.get(method)
    expected = {BENCHMARKS[k].name: v for k, v in BASE2NOVEL.get(method, {}).items()}
    if average is not None and (expected or rows):  # a table: the datasets, then the average
        expected['Average (11)'] = average
        assert rows == expected
    else:  # no table: the average in a sentence, if one is published
        assert not rows and not expected
        if average is not None:
            assert f'HM {average[2]:.2f}' in text
            assert all(f'{v:.2f}' in text for v in average if v is not None)
    for numbers in PER_SET.values():  # cross-dataset and domain generalisation
        assert all(f'{v:.2f}' in text for v in numbers.get(method, {}).values())
    assert f'configs/{folder}/' in text  # its commands
