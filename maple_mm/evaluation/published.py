"""Published results (top-1 accuracy in %): ViT-B/16 CLIP, 16 shots, 3 seeds, and, per CLIP,
the CoOp family's results on other backbones (:data:`DOMAIN_GENERALIZATION_BY_BACKBONE`).

As printed in the MaPLe paper (Khattak et al., CVPR 2023, Table 1 and the transfer tables),
keyed by the method names runs record (each method's ``method`` in
``configs/_base_/models/``) and by the dataset keys of the catalog
(:mod:`maple_mm.datasets.catalog`), or the test-set names of the
cross-dataset / domain generalisation configs. The zero-shot CLIP, CoOp and
CoCoOp rows are the CoCoOp paper's, reprinted by MaPLe. The successors' rows are
their own papers' averages, as their repositories' READMEs print them
(muzairkhattak/PromptSRC, htyao89/KgCoOp); their per-dataset tables are not
transcribed here.
"""
from typing import Dict, List, NamedTuple, Optional, Tuple

Triple = Tuple[Optional[float], Optional[float], float]  # (Base, Novel, HM)

#: The methods in the order of the tables (the paper's, then its ablations, then its successors).
METHODS = ('ZeroShotCLIP', 'CoOp', 'CoCoOp', 'VPT', 'LanguagePrompting', 'IVLP', 'MaPLe', 'KgCoOp',
           'PromptSRC')

#: Base-to-novel generalisation: method -> dataset key -> (Base, Novel, HM).
BASE2NOVEL: Dict[str, Dict[str, Triple]] = {
    'ZeroShotCLIP': {
        'imagenet': (72.43, 68.14, 70.22),
        'caltech101': (96.84, 94.00, 95.40),
        'oxford_pets': (91.17, 97.26, 94.12),
        'stanford_cars': (63.37, 74.89, 68.65),
        'oxford_flowers': (72.08, 77.80, 74.83),
        'food101': (90.10, 91.22, 90.66),
        'fgvc_aircraft': (27.19, 36.29, 31.09),
        'sun397': (69.36, 75.35, 72.23),
        'dtd': (53.24, 59.90, 56.37),
        'eurosat': (56.48, 64.05, 60.03),
        'ucf101': (70.53, 77.50, 73.85),
    },
    'CoOp': {
        'imagenet': (76.47, 67.88, 71.92),
        'caltech101': (98.00, 89.81, 93.73),
        'oxford_pets': (93.67, 95.29, 94.47),
        'stanford_cars': (78.12, 60.40, 68.13),
        'oxford_flowers': (97.60, 59.67, 74.06),
        'food101': (88.33, 82.26, 85.19),
        'fgvc_aircraft': (40.44, 22.30, 28.75),
        'sun397': (80.60, 65.89, 72.51),
        'dtd': (79.44, 41.18, 54.24),
        'eurosat': (92.19, 54.74, 68.69),
        'ucf101': (84.69, 56.05, 67.46),
    },
    'CoCoOp': {
        'imagenet': (75.98, 70.43, 73.10),
        'caltech101': (97.96, 93.81, 95.84),
        'oxford_pets': (95.20, 97.69, 96.43),
        'stanford_cars': (70.49, 73.59, 72.01),
        'oxford_flowers': (94.87, 71.75, 81.71),
        'food101': (90.70, 91.29, 90.99),
        'fgvc_aircraft': (33.41, 23.71, 27.74),
        'sun397': (79.74, 76.86, 78.27),
        'dtd': (77.01, 56.00, 64.85),
        'eurosat': (87.49, 60.04, 71.21),
        'ucf101': (82.33, 73.45, 77.64),
    },
    'MaPLe': {
        'imagenet': (76.66, 70.54, 73.47),
        'caltech101': (97.74, 94.36, 96.02),
        'oxford_pets': (95.43, 97.76, 96.58),
        'stanford_cars': (72.94, 74.00, 73.47),
        'oxford_flowers': (95.92, 72.46, 82.56),
        'food101': (90.71, 92.05, 91.38),
        'fgvc_aircraft': (37.44, 35.61, 36.50),
        'sun397': (80.82, 78.70, 79.75),
        'dtd': (80.36, 59.18, 68.16),
        'eurosat': (94.07, 73.23, 82.35),
        'ucf101': (83.00, 78.66, 80.77),
    },
}

#: The Average row over the 11 datasets: HM of the mean Base and mean Novel.
#: MaPLe's ablations (deep vision prompting = VPT, deep language prompting,
#: IVLP) are published as this HM only.
BASE2NOVEL_AVERAGE: Dict[str, Triple] = {
    'ZeroShotCLIP': (69.34, 74.22, 71.70),
    'CoOp': (82.69, 63.22, 71.66),
    'CoCoOp': (80.47, 71.69, 75.83),
    'VPT': (None, None, 76.68),
    'LanguagePrompting': (None, None, 77.56),
    'IVLP': (None, None, 77.90),
    'MaPLe': (82.28, 75.14, 78.55),
    'KgCoOp': (80.73, 73.60, 77.00),
    'PromptSRC': (84.26, 76.10, 79.97),
}

#: Cross-dataset transfer (train ImageNet): method -> {ImageNet source, mean
#: over the 10 targets} (the per-target numbers are not included here).
CROSS_DATASET: Dict[str, Dict[str, float]] = {
    'MaPLe': {
        'imagenet': 70.72,
        'target_average': 66.30
    },
}

#: Domain generalisation: the cross-dataset model on the ImageNet variants
#: (ImageNet itself is the same model's source accuracy).
DOMAIN_GENERALIZATION: Dict[str, Dict[str, float]] = {
    'MaPLe': {
        'imagenet': 70.72,
        'imagenetv2': 64.07,
        'imagenet_sketch': 49.15,
        'imagenet_a': 50.90,
        'imagenet_r': 76.98
    },
}

#: Published numbers of the protocols reported per test set.
PER_SET: Dict[str, Dict[str, Dict[str, float]]] = {
    'cross_dataset': CROSS_DATASET,
    'domain_generalization': DOMAIN_GENERALIZATION,
}

#: The CLIP of the tables above, as runs record it (open_clip's name of OpenAI's ViT-B/16).
PUBLISHED_BACKBONE = 'ViT-B-16'

#: Where the numbers below are printed.
COOP_TABLE1 = ('CoOp paper (Zhou et al., IJCV 2022, arXiv:2109.01134), Table 1: ImageNet, '
               '16 shots, and its 4 variants, 3 seeds')
TPT_README = ('azshue/TPT README, RN50 table (ImageNet and its 4 variants; OOD Avg: '
              'target_average)')


class PublishedRow(NamedTuple):
    """One published row of a per-set table (domain generalisation ...)."""

    method: str  # the model type runs record
    numbers: Dict[str, float]  # test set (or 'target_average') -> top-1 %
    source: str  # where it is printed
    setting: str = ''  # what tells two rows of one method apart in the source (e.g. 'M=16')
    #: The config that reproduces it, and the --cfg-options it needs (``setting``'s).
    config: Optional[str] = None
    options: str = ''

    @property
    def label(self) -> str:
        """'CoOp (paper, M=16)', as tables name the row."""
        return f'{self.method} (paper{", " + self.setting if self.setting else ""})'


def _sets(imagenet: float, v2: float, sketch: float, a: float, r: float) -> Dict[str, float]:
    """The columns of CoOp's Table 1: ImageNet, -V2, -Sketch, -A, -R."""
    return dict(
        imagenet=imagenet, imagenetv2=v2, imagenet_sketch=sketch, imagenet_a=a, imagenet_r=r)


def _coop_table1(clip: str, zero_shot, m16, m4) -> List[PublishedRow]:
    coop = f'configs/coop/domain_generalization_{clip}_imagenet.py'
    zero_shot_config = ('configs/zero_shot_clip/domain_generalization_imagenet.py' if clip
                        == 'vit_b16' else f'configs/zero_shot_clip/domain_generalization_{clip}_'
                        'imagenet.py')
    return [
        PublishedRow('ZeroShotCLIP', _sets(*zero_shot), COOP_TABLE1, config=zero_shot_config),
        PublishedRow('CoOp', _sets(*m16), COOP_TABLE1, 'M=16', coop),
        PublishedRow('CoOp', _sets(*m4), COOP_TABLE1, 'M=4', coop, 'model.prompt_learner.n_ctx=4'),
    ]


#: Domain generalisation on the CLIPs of the CoOp paper's Table 1 (train ImageNet, 16 shots;
#: test ImageNet, -V2, -Sketch, -A, -R), keyed by the CLIP as runs record it. CoOp's M is its
#: number of context vectors (random init, class at the end). The RN50 M=4 row is the one
#: TPT's README reprints as "CoOp" (TPT loads CoOp's released 4-token ImageNet prompts).
#: Also TPT's README table (RN50; its own zero-shot and CoCoOp runs, and TPT).
DOMAIN_GENERALIZATION_BY_BACKBONE: Dict[str, List[PublishedRow]] = {
    'RN50':
    _coop_table1('rn50', (58.18, 51.34, 33.32, 21.65, 56.00), (62.95, 55.11, 32.74, 22.12, 54.96),
                 (63.33, 55.40, 34.67, 23.06, 56.60)) +
    [
        PublishedRow('ZeroShotCLIP',
                     dict(_sets(58.16, 51.41, 33.37, 21.83, 56.15), target_average=40.69),
                     TPT_README, 'TPT README'),
        PublishedRow('ZeroShotCLIP',
                     dict(_sets(59.81, 52.91, 35.48, 23.24, 60.72), target_average=43.09),
                     TPT_README, 'ensemble, TPT README'),
        PublishedRow('CoCoOp', dict(_sets(62.81, 55.72, 34.48, 23.32, 57.74), target_average=42.82),
                     TPT_README, 'TPT README'),
        PublishedRow('TPT', dict(_sets(60.74, 54.7, 35.09, 26.67, 59.11), target_average=43.89),
                     TPT_README),
        PublishedRow('TPT', dict(_sets(64.73, 57.83, 35.86, 30.32, 58.99), target_average=45.75),
                     TPT_README, 'CoOp init'),
        PublishedRow('TPT', dict(_sets(62.93, 56.60, 35.43, 27.40, 59.88), target_average=44.83),
                     TPT_README, 'CoCoOp init'),
    ],
    'RN101':
    _coop_table1('rn101', (61.62, 54.81, 38.71, 28.05, 64.38), (66.60, 58.66, 39.08, 28.89, 63.00),
                 (65.98, 58.60, 40.40, 29.60, 64.98)),
    'ViT-B-32':
    _coop_table1('vit_b32', (62.05, 54.79, 40.82, 29.57, 65.99),
                 (66.85, 58.08, 40.44, 30.62, 64.45), (66.34, 58.24, 41.48, 31.34, 65.78)),
    'ViT-B-16':
    _coop_table1('vit_b16', (66.73, 60.83, 46.15, 47.77, 73.96),
                 (71.92, 64.18, 46.71, 48.41, 74.32), (71.73, 64.56, 47.89, 49.93, 75.14)),
}

#: Published rows of the protocols reported per test set, by CLIP (besides :data:`PER_SET`,
#: which is :data:`PUBLISHED_BACKBONE`'s).
PER_SET_BY_BACKBONE: Dict[str, Dict[str, List[PublishedRow]]] = {
    'domain_generalization': DOMAIN_GENERALIZATION_BY_BACKBONE,
}


def per_set_rows(protocol: str, backbone: Optional[str]) -> List[PublishedRow]:
    """The published rows of ``protocol`` on the CLIP ``backbone`` (open_clip's name).

    For :data:`PUBLISHED_BACKBONE` these are the rows of :data:`PER_SET` first; a CLIP with
    no published numbers has none.
    """
    rows = []
    if backbone == PUBLISHED_BACKBONE:
        rows += [
            PublishedRow(method, numbers, 'MaPLe paper (Khattak et al., CVPR 2023)')
            for method, numbers in PER_SET.get(protocol, {}).items()
        ]
    return rows + list(PER_SET_BY_BACKBONE.get(protocol, {}).get(backbone, []))
