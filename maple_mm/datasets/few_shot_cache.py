"""A portable JSON cache of few-shot selections, checked before it is trusted.

The cache file records the selected items (paths relative to the data root,
so a moved data root keeps its cache), the shots, the seed and a fingerprint
of the full source lists the items were drawn from. A file whose fingerprint
or settings do not match, which cannot be parsed, or which names items absent
from the sources is reported with a :class:`DatasetCacheWarning` and drawn
again. Files are written to a temporary name and renamed, so processes that
build the same dataset at once (distributed ranks) never read a half-written
file; a folder that cannot be written only costs a warning.
"""
import hashlib
import json
import os
import os.path as osp
import warnings
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from maple_mm.atomic_files import remove_stale_temporaries, write_text_atomically
from maple_mm.errors import DatasetCacheWarning
from .few_shot import sample_few_shot

Item = Tuple[str, int, str]

#: Bumped when the file layout or the drawing algorithm changes.
CACHE_FORMAT = 1


def cache_file_name(num_shots: int, seed: int) -> str:
    """``shot_<K>-seed_<S>.json``, the reference's name with a JSON suffix."""
    return f'shot_{num_shots}-seed_{seed}.json'


def fingerprint(sources: Mapping[str, Sequence[Item]], num_shots: int, seed: int) -> str:
    """SHA-256 of the source lists (in order), the shots, the seed and the format."""
    digest = hashlib.sha256(f'{CACHE_FORMAT}|{num_shots}|{seed}'.encode())
    for split in sorted(sources):
        digest.update(f'\n#{split}\n'.encode())
        for path, label, name in sources[split]:
            digest.update(f'{path}\t{label}\t{name}\n'.encode())
    return digest.hexdigest()


def _parse_items(raw, allowed: set) -> Optional[List[Item]]:
    if not isinstance(raw, list):
        return None
    items = []
    for entry in raw:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and isinstance(entry[1], int) and isinstance(entry[2], str)):
            return None
        item = tuple(entry)
        if item not in allowed:
            return None
        items.append(item)
    return items


def load_selection(path: str,
                   sources: Mapping[str, Sequence[Item]],
                   num_shots: int,
                   seed: int,
                   digest: Optional[str] = None) -> Optional[Dict[str, List[Item]]]:
    """The cached selection at ``path`` if it fits ``sources``; else warn and return None.

    ``digest`` is :func:`fingerprint` of the arguments, if already computed.
    """
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            cached = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        warnings.warn(
            f'Few-shot cache {path} is unreadable ({err}); drawing the '
            'selection again.', DatasetCacheWarning)
        return None
    expected = dict(
        format=CACHE_FORMAT,
        num_shots=num_shots,
        seed=seed,
        fingerprint=digest or fingerprint(sources, num_shots, seed))
    if not isinstance(cached, dict) or any(cached.get(k) != v for k, v in expected.items()):
        warnings.warn(
            f'Few-shot cache {path} is stale (it was drawn from another split '
            'file, image listing, shot count or seed); drawing the selection '
            'again.', DatasetCacheWarning)
        return None
    selection = {}
    for split, items in sources.items():
        parsed = _parse_items(cached.get(split), set(map(tuple, items)))
        if parsed is None:
            warnings.warn(
                f'Few-shot cache {path} is corrupt (its {split!r} list is '
                'malformed or names items outside the split); drawing the '
                'selection again.', DatasetCacheWarning)
            return None
        selection[split] = parsed
    return selection


def save_selection(path: str,
                   selection: Mapping[str, Sequence[Item]],
                   sources: Mapping[str, Sequence[Item]],
                   num_shots: int,
                   seed: int,
                   digest: Optional[str] = None) -> None:
    """Write the selection atomically; warn instead of failing if that is impossible.

    ``digest`` is :func:`fingerprint` of the sources, shots and seed, if already computed.
    """
    content = dict(
        format=CACHE_FORMAT,
        num_shots=num_shots,
        seed=seed,
        fingerprint=digest or fingerprint(sources, num_shots, seed),
        **{
            split: [list(item) for item in items]
            for split, items in selection.items()
        })
    try:
        os.makedirs(osp.dirname(path) or '.', exist_ok=True)
        write_text_atomically(path, json.dumps(content))
    except OSError as err:
        warnings.warn(
            f'Cannot write the few-shot cache {path} ({err}); continuing without '
            'it. Set fewshot_cache_dir to a writable folder to keep the '
            'selection.', DatasetCacheWarning)


def cached_few_shot(cache_path: Optional[str], sources: Mapping[str, Sequence[Item]],
                    num_shots: int, seed: int) -> Dict[str, List[Item]]:
    """Few-shot selection of ``sources`` ('train' and optionally 'val'), via the cache.

    ``cache_path`` None draws without caching. The draw is :func:`sample_few_shot`:
    train first, then val with the same generator.
    """
    # Hashing every source item is the cache's main cost: do it once per call.
    digest = fingerprint(sources, num_shots, seed) if cache_path is not None else None
    if cache_path is not None:
        folder = osp.dirname(cache_path) or '.'
        if osp.isdir(folder):  # what killed writes of this cache file left
            remove_stale_temporaries(folder, f'.{osp.basename(cache_path)}*.tmp')
        cached = load_selection(cache_path, sources, num_shots, seed, digest)
        if cached is not None:
            return cached
    train, val = sample_few_shot(sources['train'], sources.get('val', []), num_shots, seed)
    selection = {'train': list(train)}
    if 'val' in sources:
        selection['val'] = list(val)
    if cache_path is not None:
        save_selection(cache_path, selection, sources, num_shots, seed, digest)
    return selection
