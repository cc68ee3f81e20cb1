"""Importing maple_mm registers modules (and the zoo in mmpretrain's model index) and changes
nothing else in the process."""
import subprocess
import sys

from .conftest import REPO_ROOT

PROBE = r'''
import sys, warnings
import torch
import mmengine.runner.runner as runner_module
from mmengine.dist import init_dist
from mmengine.model import MMDistributedDataParallel
from mmengine.runner.checkpoint import CheckpointLoader
# What maple_mm imports anyway; their own import-time effects are not maple_mm's.
import open_clip, mmpretrain.models, mmpretrain.datasets, mmpretrain.engine  # noqa: F401,E401
import mmpretrain.evaluation, mmpretrain.apis  # noqa: F401,E401



def snapshot():
    """What importing a plugin must leave as it was."""
    return dict(
        loader=CheckpointLoader._get_checkpoint_loader('/some/file.pth'),
        schemes=dict(CheckpointLoader._schemes),
        init_dist=runner_module.init_dist,
        module_init_dist=init_dist,
        ddp_init=MMDistributedDataParallel.__init__,
        set_device=torch.cuda.set_device,
        filters=list(warnings.filters),
        safe_globals=list(torch.serialization.get_safe_globals()),
        torch_load=torch.load,
    )


from mmpretrain import list_models
models_before = set(list_models())  # mmpretrain's own index
before = snapshot()
import maple_mm  # noqa: F401
from mmpretrain.registry import MODELS, RUNNERS
after = snapshot()
changed = [k for k in before if before[k] != after[k]]
assert not changed, changed
assert MODELS.get('MaPLe') is not None and RUNNERS.get('MapleRunner') is not None
# The model index gains the zoo's names, and only those (maple_mm/method_zoo.py).
import yaml
zoo = {m['Name'].lower() for m in yaml.safe_load(open('model-index.yml'))['Models']}
assert set(list_models()) == models_before | zoo and not models_before & zoo
print('unchanged')
'''


def test_import_changes_nothing_outside_maple_mm():
    proc = subprocess.run([sys.executable, '-c', PROBE],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith('unchanged')


def test_a_plain_mmpretrain_model_loads_as_without_maple_mm(tmp_path):
    """A ResNet checkpoint loads through mmengine exactly as it would without maple_mm."""
    import torch
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS

    cfg = dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=512))
    model = MODELS.build(cfg)
    path = tmp_path / 'resnet.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    other = MODELS.build(cfg)
    load_checkpoint(other, str(path), map_location='cpu')
    for key, value in model.state_dict().items():
        assert torch.equal(value, other.state_dict()[key]), key
