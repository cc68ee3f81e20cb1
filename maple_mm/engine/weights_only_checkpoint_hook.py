"""Write mmengine checkpoints that load with ``torch.load(weights_only=True)``."""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from maple_mm.compat import from_plain, to_plain


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Make checkpoints weights-only loadable; drop the optimizer state at the end.

    mmengine stores its message hub as ``HistoryBuffer`` objects holding NumPy
    arrays, which the weights-only unpickler refuses; they are saved as tensors
    and plain types (:func:`maple_mm.compat.to_plain`) and rebuilt on loading, so
    ``--resume``, ``load_from`` and ``tools/test.py`` never unpickle code.

    The checkpoint of the last epoch keeps no optimizer state (SGD momentum
    doubles the file and nothing is left to resume), so a finished ViT-B/16
    run leaves a ~14 MB file holding just the prompts.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in ('meta', 'message_hub', 'param_schedulers'):
            if key in checkpoint:
                checkpoint[key] = to_plain(checkpoint[key])
        if checkpoint.get('meta', {}).get('epoch', 0) >= runner.max_epochs:
            checkpoint.pop('optimizer', None)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = from_plain(checkpoint['message_hub'])
