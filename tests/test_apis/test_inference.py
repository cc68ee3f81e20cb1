"""Inference on any class names, through mmpretrain's API and tools/infer.py."""
import json
import re

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.apis import ImageClassificationInferencer, get_model, inference_model
from mmpretrain.registry import RUNNERS

from maple_mm.apis import PromptedCLIPInferencer, classify_images, image_files, load_model
from maple_mm.errors import ClassNameError, ImageDecodeError
from ..conftest import load_tool, write_split_dataset
from ..test_tools.test_train_test_e2e import tiny_config

BASE = ['red_square', 'green circle', 'blue']


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('infer')
    data = write_split_dataset(tmp / 'toy')
    config = tiny_config(tmp, data, epochs=1)
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp / 'work')
    RUNNERS.build(cfg).train()
    images = [
        str(data / 'images' / 'blue' / 'test_0.png'),
        str(data / 'images' / 'red_square' / 'test_1.png'),
        str(data / 'images' / 'yellow' / 'test_2.png')
    ]
    return dict(
        config=str(config), checkpoint=str(tmp / 'work' / 'epoch_1.pth'), images=images, tmp=tmp)


def test_mmpretrain_get_model_restores_the_class_names(trained):
    model = get_model(trained['config'], pretrained=trained['checkpoint'])
    assert model.class_names == BASE


def test_mmpretrain_inferencer_reports_the_names_the_prompts_were_built_from(trained):
    inferencer = ImageClassificationInferencer(trained['config'], pretrained=trained['checkpoint'])
    results = inferencer(trained['images'])
    assert {r['pred_class'] for r in results} <= set(BASE)
    assert len(results[0]['pred_scores']) == 3
    inferencer.model.set_class_names(['frog', 'dog'])  # the explicit call
    results = inferencer(trained['images'])
    assert {r['pred_class'] for r in results} <= {'frog', 'dog'}
    assert len(results[0]['pred_scores']) == 2
    assert inference_model(inferencer.model, trained['images'][0])['pred_class'] in ('frog', 'dog')


def test_classes_argument_sets_the_prompts(trained):
    names = ['yellow', 'blue', 'frog', 'cat']
    inferencer = PromptedCLIPInferencer(
        trained['config'], pretrained=trained['checkpoint'], classes=names)
    assert inferencer.model.class_names == names
    results = inferencer(trained['images'], batch_size=2)
    assert len(results[0]['pred_scores']) == 4 and results[0]['pred_class'] in names
    # The same logits as the model itself with those names.
    model = load_model(trained['config'], trained['checkpoint'], classes=names)
    top = classify_images(model, trained['images'], topk=4)
    assert [r['labels'][0][0] for r in top] == [r['pred_class'] for r in results]


def test_text_features_are_computed_once_per_class_list(trained, monkeypatch):
    model = load_model(trained['config'], trained['checkpoint'], classes=['a', 'b', 'c'])
    calls = []
    encode = model.text_features
    monkeypatch.setattr(model, 'text_features', lambda p: calls.append(1) or encode(p))
    classify_images(model, trained['images'] * 3, batch_size=2)  # 5 batches
    assert len(calls) == 1


def run_tool_in_process(tool: str, *argv) -> None:
    """``python tools/<tool>.py ARGV`` in this process (user errors raise SystemExit)."""
    load_tool('tools/_cli.py').run_cli(load_tool(f'tools/{tool}.py').main, [str(a) for a in argv])


def run_infer(*argv):
    run_tool_in_process('infer', *argv)


def test_infer_tool_prints_top_k_and_writes_json(trained, capsys, monkeypatch):
    import functools

    import maple_mm.apis.inference
    from maple_mm.progress import Progress

    # A progress line after every batch (every 10 s of work by default).
    monkeypatch.setattr(maple_mm.apis.inference, 'Progress',
                        functools.partial(Progress, interval_s=0))
    out = trained['tmp'] / 'results.json'
    folder = trained['tmp'] / 'toy' / 'images' / 'blue'
    run_infer(trained['config'], trained['checkpoint'], folder, trained['images'][1], '--classes',
              'blue, red square ,frog', '--topk', '2', '--out', out, '--batch-size', '4')
    printed = capsys.readouterr()
    lines = [line for line in printed.out.splitlines() if '.png: ' in line]
    # Whole result lines: nothing glued to a progress line, which goes to stderr.
    assert all(re.fullmatch(r'\S+\.png: [a-z ]+ [\d.]+, [a-z ]+ [\d.]+', line) for line in lines)
    assert len(lines) == len(image_files([folder])) + 1 == 16 and 'classify' not in printed.out
    progress = printed.err.splitlines()
    assert progress[0].startswith('classify: 4/16 images (25%), ') and 'ETA' in progress[0]
    assert progress[-1].startswith('classify: 16/16 images (100%), ') and 'done in' in progress[-1]
    assert len(progress) == 4
    assert all(line.count(',') == 1 for line in lines)  # two labels each
    saved = json.loads(out.read_text())
    assert saved['classes'] == ['blue', 'red square', 'frog']
    assert [len(r['labels']) for r in saved['results']] == [2] * len(lines)
    with pytest.raises(SystemExit, match='already exists'):
        run_infer(trained['config'], trained['checkpoint'], folder, '--out', out)
    # --cfg-options reaches the model built from the config, as in the other tools.
    with pytest.raises(
            SystemExit, match=r'error: The checkpoint does not fit the MaPLe model .*'
            r'n_ctx=4'):
        run_infer(trained['config'], trained['checkpoint'], folder, '--cfg-options',
                  'model.prompt_learner.n_ctx=4')


def test_bad_inputs_are_one_error_line(trained, tmp_path):
    bad = tmp_path / 'empty.jpg'
    bad.write_bytes(b'')
    with pytest.raises(ImageDecodeError, match='empty'):
        image_files([str(bad)])
    with pytest.raises(SystemExit, match='error: .*empty.jpg cannot be read'):
        run_infer(trained['config'], trained['checkpoint'], bad)
    with pytest.raises(SystemExit, match='error: The class list is empty'):
        run_infer(trained['config'], trained['checkpoint'], trained['images'][0], '--classes',
                  ' , ')
    with pytest.raises(SystemExit, match='give the checkpoint of a trained run'):
        run_infer(trained['config'], 'none', trained['images'][0])  # checked before building
    with pytest.raises(SystemExit, match='learns prompts: give the checkpoint'):
        run_infer(trained['config'], 'none', trained['images'][0], '--classes', 'cat,dog')
    unnamed = torch.load(trained['checkpoint'], weights_only=True)
    del unnamed['state_dict']['_extra_state']  # as checkpoints of earlier versions ...
    torch.save(unnamed, tmp_path / 'unnamed.pth')
    assert load_model(trained['config'], str(tmp_path / 'unnamed.pth')).class_names == BASE
    del unnamed['meta']['dataset_meta']  # ... which still name them in their meta
    torch.save(unnamed, tmp_path / 'unnamed.pth')
    with pytest.raises(ClassNameError, match='No class names: the checkpoint has none saved'):
        load_model(trained['config'], str(tmp_path / 'unnamed.pth'))


def test_inference_decodes_images_as_the_reference(trained, tmp_path):
    """PIL, RGB, the EXIF orientation not applied (Dassl's read_image), not OpenCV's turn."""
    from ..test_datasets.test_image_decode import write_exif_rotated_jpeg
    path = str(tmp_path / 'rotated.jpg')
    pil_rgb = write_exif_rotated_jpeg(path)
    inferencer = PromptedCLIPInferencer(trained['config'], pretrained=trained['checkpoint'])
    [batch] = list(inferencer.preprocess([path]))
    bgr = np.ascontiguousarray(pil_rgb[..., ::-1])
    expected = inferencer.pipeline(dict(img=bgr, img_shape=bgr.shape[:2],
                                        ori_shape=bgr.shape[:2]))['inputs']
    assert torch.equal(batch['inputs'][0], expected)
    turned = mmcv.imread(path)  # what mmpretrain's own loader would give
    assert not torch.equal(
        inferencer.pipeline(
            dict(img=turned, img_shape=turned.shape[:2], ori_shape=turned.shape[:2]))['inputs'],
        expected)
