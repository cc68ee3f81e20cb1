"""What a run is, as the results tables read it: method, protocol, dataset, shots, seed."""
import os.path as osp
from typing import Optional

from maple_mm.datasets.catalog import dataset_key_of_type


def _dataset_key(dataset_cfg: dict) -> Optional[str]:
    """The catalog key of a dataset config, else the name of its folder."""
    key = dataset_key_of_type(dataset_cfg.get('type', ''))
    if key is None and dataset_cfg.get('data_root'):
        key = osp.basename(osp.normpath(dataset_cfg['data_root']))
    return key


def run_record(cfg) -> dict:
    """The record a test writes beside its metrics.

    ``method`` and ``protocol`` are the config's top-level ``method`` and
    ``protocol`` entries (set by the method's and the protocol's base
    configs; the model type otherwise); the dataset is the one trained on
    (or tested, for a test-only config); shots and seed are those of its
    few-shot draw and of the run.
    """
    cfg = cfg or {}
    train = ((cfg.get('train_dataloader') or {}).get('dataset') or {})
    test = ((cfg.get('test_dataloader') or {}).get('dataset') or {})
    source = train or test
    model = cfg.get('model') or {}
    return dict(
        method=cfg.get('method') or model.get('type'),
        protocol=cfg.get('protocol'),
        dataset=_dataset_key(source) if source else None,
        shots=source.get('num_shots'),
        seed=(cfg.get('randomness') or {}).get('seed'),
        config=osp.splitext(osp.basename(cfg.filename))[0] if getattr(cfg, 'filename', None)
        else None,
    )
