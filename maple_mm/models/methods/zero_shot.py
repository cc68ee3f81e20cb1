"""Zero-shot CLIP: hand-written prompt templates, nothing learned (Radford et al., 2021).

The CoOp family's baseline uses one template per dataset ("a photo of a {},
a type of pet." for OxfordPets, ...: ``maple_mm.datasets.catalog``), read from
the dataset's metainfo; the ensemble option averages the features of CLIP's
seven selected ImageNet templates plus the dataset's own template, as the
reference does for every dataset but ImageNet. Reference: ``trainers/zsclip.py`` of
muzairkhattak/multimodal-prompt-learning (``ZeroshotCLIP`` and ``ZeroshotCLIP2``).
"""
from typing import List, Optional, Sequence, Union

from mmpretrain.registry import MODELS
from open_clip.zero_shot_metadata import SIMPLE_IMAGENET_TEMPLATES

from maple_mm.datasets.catalog import DEFAULT_TEMPLATE
from maple_mm.errors import PromptConfigError
from ..class_prompts import tokenize_prompts
from ..classifier import PromptedCLIP
from ..prompt_learner import PromptLearner, build_clip

#: The dataset's own template ('dataset'), or that plus CLIP's 7 selected ImageNet ones.
TEMPLATE_CHOICES = ('dataset', 'ensemble')


@MODELS.register_module()
class ZeroShotPromptLearner(PromptLearner):
    """Fixed prompts from templates.

    Args:
        clip: The frozen CLIP (or its config); only checked, nothing is learned.
        templates: 'dataset' (the template in the dataset's metainfo,
            ``prompt_template``, else "a photo of a {}."), 'ensemble' (CLIP's 7
            selected ImageNet templates, plus the dataset's ``prompt_template``
            when its metainfo names one and does not set
            ``prompt_template_in_ensemble=False``), or one template / a list of
            templates with ``{}`` for the class name.

    The reference ensemble (``ZeroshotCLIP2``) adds the dataset's template for
    every dataset except ImageNet, also when it is "a photo of a {}."
    (Caltech101, StanfordCars, SUN397, the ImageNet variants); ImageNet's
    metainfo says ``prompt_template_in_ensemble=False`` (the catalog's record).
    """

    def __init__(self, clip, templates: Union[str, Sequence[str]] = 'dataset') -> None:
        super().__init__()
        build_clip(clip)
        if isinstance(templates, str) and templates not in TEMPLATE_CHOICES \
                and '{}' not in templates:
            raise PromptConfigError(f"templates must be one of {TEMPLATE_CHOICES}, or templates "
                                    f"with '{{}}' for the class name, got {templates!r}")
        self.templates = templates
        #: The template the current dataset names (None: it names none).
        self.dataset_template: Optional[str] = None
        #: Whether the ensemble adds it (not for ImageNet, as in the reference).
        self.template_in_ensemble = True

    def extra_repr(self) -> str:
        return f'templates={self.templates!r}'

    def configure_for_dataset(self, dataset_meta: dict) -> bool:
        template = dataset_meta.get('prompt_template') or None
        in_ensemble = bool(dataset_meta.get('prompt_template_in_ensemble', True))
        changed = (template, in_ensemble) != (self.dataset_template, self.template_in_ensemble)
        self.dataset_template, self.template_in_ensemble = template, in_ensemble
        return changed and self.templates in TEMPLATE_CHOICES

    def current_templates(self) -> List[str]:
        """The format strings the class prompts are built from."""
        if self.templates == 'dataset':
            return [self.dataset_template or DEFAULT_TEMPLATE]
        if self.templates == 'ensemble':
            ensemble = [t('{}') for t in SIMPLE_IMAGENET_TEMPLATES]
            extra = self.dataset_template if self.template_in_ensemble else None
            return ensemble + ([extra] if extra else [])
        return [self.templates] if isinstance(self.templates, str) else list(self.templates)

    def build_class_prompts(self, class_names, clip):
        return [
            tokenize_prompts(clip,
                             [template.format(name.replace('_', ' ')) for name in class_names])
            for template in self.current_templates()
        ]


@MODELS.register_module()
class ZeroShotCLIP(PromptedCLIP):
    """Zero-shot CLIP (see :class:`PromptedCLIP` for the arguments); needs no training."""

    default_learner = 'ZeroShotPromptLearner'
