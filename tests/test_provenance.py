"""maple_mm.provenance: what a checkpoint says about its writer, and how it is compared."""
import pytest
from mmengine.config import Config

from maple_mm.errors import CheckpointFormatError, OtherWriterError, TrainedDataMismatchError
from maple_mm.evaluation.published import METHODS
from maple_mm.models import TINY_CLIP_CFG
from maple_mm.provenance import (architecture_differences, check_tested_set, check_writer,
                                 clip_identity, describe_class_difference, expecting_writer,
                                 list_fingerprint)

VIT_B16 = dict(type='OpenCLIPBackbone', model_name='ViT-B-16', pretrained='openai')
#: Two methods (the example and another, tests/test_method_files.py): a writer and a reader.
WRITER, READER = 'MaPLe', next(m for m in METHODS if m != 'MaPLe')


def test_a_named_clip_is_described_from_open_clips_config_without_building_it():
    assert clip_identity(VIT_B16) == dict(
        model_name='ViT-B-16',
        pretrained='openai',
        embed_dim=512,
        text_width=512,
        text_layers=12,
        vision_width=768,
        vision_layers=12)
    local = clip_identity(dict(VIT_B16, pretrained='/models/clip/ViT-B-16.pt'))
    assert local['pretrained'] == 'ViT-B-16.pt'  # the file's name: paths differ by machine
    tiny = clip_identity(dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG))
    assert (tiny['model_name'], tiny['text_width'], tiny['vision_layers']) == ('custom', 32, 4)


def test_clips_of_equal_widths_differ_by_name():
    """ViT-B/32 has ViT-B/16's widths and depths: only its name (patch size) differs."""
    b32 = clip_identity(dict(VIT_B16, model_name='ViT-B-32'))
    assert architecture_differences(clip_identity(VIT_B16), b32) == ['model_name']
    # A converted checkpoint knows widths only.
    assert architecture_differences(dict(text_width=512), clip_identity(VIT_B16)) == []
    assert architecture_differences(dict(text_width=32), clip_identity(VIT_B16)) == ['text_width']


def _checkpoint(method=WRITER, **written):
    return dict(meta=dict(written_by=dict(method=method, clip=clip_identity(VIT_B16), **written)))


def test_the_writer_is_checked_only_against_an_expected_model():
    check_writer('x.pth', _checkpoint())  # no model expected: only its form is checked
    with pytest.raises(CheckpointFormatError, match='its meta.written_by names no method'):
        check_writer('x.pth', dict(meta=dict(written_by=dict(clip={}))))
    cfg = Config(dict(method=READER, model=dict(type=READER, backbone=VIT_B16)))
    with expecting_writer(cfg), pytest.raises(OtherWriterError, match=f'was written by {WRITER}'):
        check_writer('x.pth', _checkpoint())
    with expecting_writer(Config(dict(cfg.to_dict(), allow_other_method=True))):
        check_writer('x.pth', _checkpoint())
    b32 = Config(
        dict(method=WRITER, model=dict(type=WRITER, backbone=dict(VIT_B16, model_name='ViT-B-32'))))
    with expecting_writer(b32), pytest.raises(
            OtherWriterError,
            match=r'learned on ViT-B-16 \(openai\), but the config builds '
            r'ViT-B-32 \(openai\) \(other model_name\)'):
        check_writer('x.pth', _checkpoint())


class _Dataset:
    split = 'test'

    def __init__(self, classes, items):
        self.metainfo = dict(classes=classes)
        self.split_fingerprint = dict(
            dataset='toy', source='split.json', lists=dict(test=list_fingerprint(items)))


def test_tested_data_against_the_training_data(caplog):
    items = [('a.png', 0, 'cat'), ('b.png', 1, 'dog')]
    trained = _Dataset(['cat', 'dog'], items)
    weights = dict(
        file='w.pth',
        written_by=dict(method=READER, classes=['cat', 'dog'], data=trained.split_fingerprint))
    assert check_tested_set(weights, 'base', trained, True) == trained.split_fingerprint
    with pytest.raises(TrainedDataMismatchError, match="label 1 was 'dog', is now 'wolf'"):
        check_tested_set(weights, 'base', _Dataset(['cat', 'wolf'], items), True)
    check_tested_set(weights, 'novel', _Dataset(['cow'], items), False)  # other classes: fine
    warned = set()
    for name in ('base', 'novel'):
        check_tested_set(
            weights, name, _Dataset(['cat', 'dog'], items[:1]), name == 'base', warned=warned)
    assert warned == {('split.json', 'test')}  # one warning for the list, not one per set


def test_class_differences_are_named():
    assert describe_class_difference(['a', 'b'], ['a', 'c']) == "label 1 was 'b', is now 'c'"
    assert describe_class_difference(['a', 'b'], ['a', 'b', 'c']) == \
        "2 classes then, 3 now; new: 'c'"


def test_fingerprints_see_every_change_of_a_list():
    items = [('a.png', 0, 'cat'), ('b.png', 1, 'dog')]
    base = list_fingerprint(items)
    assert base['items'] == 2 and base['classes'] == 2
    for changed in ([items[1], items[0]], items[:1], [('a.png', 0, 'cat'), ('b.png', 1, 'wolf')]):
        assert list_fingerprint(changed)['sha256'] != base['sha256']
