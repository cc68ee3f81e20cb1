"""What the name of a zoo config says: protocol, CLIP, variant and dataset.

A config of a method folder is named ``<protocol>_<dataset>.py`` (the recipe on
ViT-B/16, the papers' CLIP), or ``<protocol>_<clip>[_<variant>]_<dataset>.py`` for a
reference recipe on another CLIP (CoOp's ``rn50*.yaml`` ...): ``few_shot_rn50_dtd``,
``few_shot_rn50_csc_dtd``, ``domain_generalization_vit_b32_nctx4_imagenet``. The
published numbers of such a config belong to its CLIP's tables
(:mod:`maple_mm.evaluation.published`); the tests check that each config builds the
CLIP its name says.
"""
from typing import NamedTuple, Optional

from maple_mm.datasets.catalog import BENCHMARKS

#: The CLIP a config's name can say, as open_clip names it (OpenAI's weights).
CONFIG_CLIPS = {'rn50': 'RN50', 'rn101': 'RN101', 'vit_b32': 'ViT-B-32', 'vit_b16': 'ViT-B-16'}
#: The CLIP of a config whose name says none (configs/_base_/clip_vit_b16.py).
DEFAULT_CLIP = 'ViT-B-16'
#: The protocols config names start with.
CONFIG_PROTOCOLS = ('base2novel', 'few_shot', 'cross_dataset', 'domain_generalization')


class ConfigName(NamedTuple):
    """The parts of a config's name (all None for a name outside the scheme, e.g. a demo)."""

    protocol: Optional[str]
    #: Between protocol and dataset: ``<clip>[_<variant>]`` ('rn50', 'rn50_csc'), None if none.
    setting: Optional[str]
    dataset: Optional[str]

    @property
    def clip_token(self) -> str:
        """The key of :data:`CONFIG_CLIPS` the setting starts with ('' if none)."""
        setting = self.setting or ''
        return next((t for t in CONFIG_CLIPS if setting == t or setting.startswith(t + '_')), '')

    @property
    def clip(self) -> Optional[str]:
        """The CLIP the name says (open_clip's name); :data:`DEFAULT_CLIP` for a name
        without a setting; None for a setting that names no CLIP."""
        if self.setting is None:
            return DEFAULT_CLIP
        return CONFIG_CLIPS.get(self.clip_token) if self.clip_token else None

    @property
    def variant(self) -> str:
        """What the setting says after the CLIP ('csc', 'nctx4'; '' if nothing)."""
        token = self.clip_token
        return (self.setting or '')[len(token) + 1:] if token else ''


def config_name(stem: str) -> ConfigName:
    """The parts of the config name ``stem`` (the file name without ``.py``)."""
    protocol = next((p for p in CONFIG_PROTOCOLS if stem.startswith(p + '_')), None)
    if protocol is None:
        return ConfigName(None, None, None)
    rest = stem[len(protocol) + 1:]
    dataset = next((key for key in sorted(BENCHMARKS, key=len, reverse=True)
                    if rest == key or rest.endswith('_' + key)), None)
    if dataset is None:
        return ConfigName(protocol, None, None)
    return ConfigName(protocol, rest[:-len(dataset) - 1] if rest != dataset else None, dataset)
