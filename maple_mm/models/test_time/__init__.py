"""Test-time prompt tuning: TPT on any prompted CLIP and PromptAlign's alignment term.

:class:`TestTimeTuner` tunes one image; the test loop that drives it is
:class:`maple_mm.engine.runners.TestTimeTuningLoop`; the views come from
:class:`maple_mm.datasets.TestTimeViews`.
"""
from .objectives import (alignment_loss, confident_views, marginal_entropy, token_statistics,
                         view_entropies)
from .source_statistics import (compute_source_statistics, expected_layout, load_source_statistics,
                                save_source_statistics)
from .tuner import Alignment, ImageRecord, TestTimeTuner

__all__ = [
    'TestTimeTuner', 'Alignment', 'ImageRecord', 'confident_views', 'marginal_entropy',
    'view_entropies', 'token_statistics', 'alignment_loss', 'compute_source_statistics',
    'expected_layout', 'load_source_statistics', 'save_source_statistics'
]
