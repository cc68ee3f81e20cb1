"""Compare each method's reference and efficient paths: step time, eval throughput, memory.

    python tools/benchmark.py [--method maple|coop|...|all] [--classes 10 100 1000]
                              [--device cpu|cuda] [--precision fp32|bf16|fp16]
                              [--model ViT-B-16|RN50|tiny] ...

Each method (a config folder: maple_mm.method_zoo) is built with its reference
recipe: its model config (configs/_base_/models/<method>.py: prompt sizes, depths,
loss weights) and the training batch of its base-to-novel config (CoOp 32, CoCoOp
1, KgCoOp 128, ProGrad 32, the others 4; zero-shot CLIP is not trained). The
training step is the method's: one backward of the sum of its loss terms, or,
for a method that owns its update (ProGrad), one gradient per term and its rule;
the first step's loss (the sum) of both paths is printed side by side. The frozen
CLIP's text features of methods that compare with them (KgCoOp, PromptSRC: 60
templates per class, ProGrad's teacher) are computed once per class set,
as the reference computes them at start-up, so they are not part of a step: both
paths get them from the efficient path before the timed steps.
The reference path (``efficient=False``) is the computation of the reference
code: all 77 text positions of every prompt at every forward (for CoCoOp, every
class for every image).

Every measurement runs in a fresh subprocess, so peak memory is its own (CPU:
the process's peak resident set, ru_maxrss; GPU: torch.cuda.max_memory_allocated).
The CLIP has random weights. Class names: C names spread evenly over open_clip's
1000 ImageNet class names (CLIP's cleaned names, as CoOp uses).

Training: one step = forward, backward and SGD step at batch --train-batch;
the median of --steps steps after --warmup steps.
Evaluation: images/s at batch --eval-batch, text features included. The
reference recomputes them for every batch: B / t_batch. The efficient path
computes them once per class set and reuses them, as in a test epoch over
N = --images-per-class x C images: N / (t_text + N / B x t_batch); text that
depends on the image (CoCoOp) is computed for every batch on both paths.

Test-time prompt tuning (``--kinds tpt``): images/s of TPT (TestTimeTuner: per image
the reset, one AdamW step on the 10% most confident of --tpt-views augmented views
plus the original, and the prediction of the original view) on the method's learned
tensors (zero-shot CLIP: CoOp's context from "a photo of a", TPT+CLIP). The reference
path is the reference loop's computation: every view through both encoders at every
step with the 77-position text tower, the original view encoded again to predict; the
efficient path encodes the views once where the prompts do not reach the images,
back-propagates through the confident views only, and uses the fast text paths. Both
tune on the same random views; their predictions are compared image by image.

A measurement whose estimated peak memory (extrapolated from smaller class
counts, or from the activation size for the reference at the first class count)
exceeds --memory-limit-gib is not run but reported as OOM, with its step time
extrapolated linearly in the number of classes where two smaller counts ran.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from _cli import PRECISION_CHOICES, REPO_ROOT, package_module

method_zoo = package_module('method_zoo')  # reads the metafiles; no torch for --help

PATHS = ('reference', 'efficient')
KINDS = ('train', 'eval', 'tpt')
#: What is measured unless --kinds says otherwise.
DEFAULT_KINDS = ('train', 'eval')
#: Every method's config folder (its model and recipe are read from its configs).
METHODS = list(method_zoo.method_folders())


def method_model(method: str) -> dict:
    """The method's model config (type, prompt learner, loss weights), without data parts."""
    from mmengine.config import Config
    model = Config.fromfile(str(method_zoo.model_config_file(method))).model.to_dict()
    return {k: v for k, v in model.items() if k not in ('backbone', 'data_preprocessor')}


def method_train_batch(method: str) -> Optional[int]:
    """The training batch of the method's base-to-novel recipe (None: nothing is trained)."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(method_zoo.base2novel_config_file(method)))
    return cfg.train_dataloader.batch_size if cfg.get('train_dataloader') else None


#: Bytes of saved activations per (class, position, text width, text layer) when
#: the reference trains in fp32; measured on ViT-B/16 (~56), rounded up.
REFERENCE_TRAIN_BYTES = 60


# -- worker: one measurement in this process -----------------------------------------
def class_names(count: int) -> List[str]:
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES
    names = list(IMAGENET_CLASSNAMES)
    if count > len(names):
        raise SystemExit(f'at most {len(names)} classes, got {count}')
    return [names[i * len(names) // count] for i in range(count)]


def tpt_model(model_cfg: dict) -> dict:
    """The model TPT tunes for a method: its own, or, for a method whose prompts are built
    and tuned as built (zero-shot CLIP), the model of the test-time config that names it as
    its ``test_cfg.tuned_method`` (TPT+CLIP: a context learner from "a photo of a")."""
    from mmengine.config import Config
    folders = method_zoo.test_time_folders()
    for path in sorted(p for f in folders for p in (Path(REPO_ROOT) / 'configs' / f).glob('*.py')):
        if f"tuned_method='{model_cfg.get('type')}'" in path.read_text():
            model = Config.fromfile(str(path)).model.to_dict()
            model.pop('backbone', None)
            return model
    return model_cfg


def build_model(opts: dict):
    import torch
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import maple_mm  # noqa: F401  registers the modules
    from maple_mm.models import TINY_CLIP_CFG
    init_default_scope('mmpretrain')
    backbone = dict(type='OpenCLIPBackbone', model_name=opts['model'])
    if opts['model'] == 'tiny':
        backbone = dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG)
    model_cfg = method_model(opts['method'])
    if opts['kind'] == 'tpt':
        model_cfg = tpt_model(model_cfg)
    learner = dict(model_cfg.get('prompt_learner', {}))
    for key in ('depth', 'depth_text', 'depth_vision'):  # e.g. the tiny CLIP has 4 blocks
        if key in learner and opts['depth']:
            learner[key] = min(learner[key], opts['depth'])
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            model_cfg,
            backbone=backbone,
            prompt_learner=learner,
            class_names=class_names(opts['classes']),
            efficient=opts['path'] == 'efficient'))
    return model.to(opts['device'])


class Clock:
    """Wall time of a region, with the GPU's queued work finished."""

    def __init__(self, device: str) -> None:
        import torch
        self.sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)

    def time(self, fn) -> float:
        self.sync()
        start = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - start


def measure_train(model, opts: dict) -> dict:
    import torch
    from mmengine.optim import OptimWrapper
    from mmpretrain.structures import DataSample

    from maple_mm.engine import MixedPrecisionOptimWrapper
    from maple_mm.models.update_rule import owns_update
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.0035, momentum=0.9, weight_decay=5e-4)
    if opts['precision'] == 'fp32' and not owns_update(model):
        wrapper = OptimWrapper(optimizer=optimizer)
    else:
        wrapper = MixedPrecisionOptimWrapper(optimizer=optimizer, precision=opts['precision'])
    size = model.backbone.image_size[0]
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(opts['train_batch'], 3, size, size, generator=generator)
    labels = torch.randint(opts['classes'], (opts['train_batch'], ), generator=generator)
    images = images.to(opts['device'])
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    model.train()
    if model.prompt_learner.frozen_prompts:  # once per class set: not part of a step
        efficient, model.efficient = model.efficient, True
        model.frozen_text_features()
        model.efficient = efficient
    losses = []

    def step():
        with wrapper.optim_context(model):
            terms = model.loss(images, samples)
        loss, _ = model.parse_losses(terms)  # their sum, or the method's own update rule
        wrapper.update_params(loss)
        losses.append(float(loss.detach()))

    clock = Clock(opts['device'])
    times = [clock.time(step) for _ in range(opts['warmup'] + opts['steps'])]
    return dict(
        step_s=statistics.median(times[opts['warmup']:]),
        first_loss=losses[0],
        finite=all(math.isfinite(x) for x in losses))


def measure_eval(model, opts: dict) -> dict:
    import torch

    from maple_mm.engine.optimizers.precision import precision_context
    size = model.backbone.image_size[0]
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(opts['eval_batch'], 3, size, size, generator=generator)
    images = images.to(opts['device'])
    model.eval()
    clock = Clock(opts['device'])
    device_type = torch.device(opts['device']).type
    result = {}
    with torch.no_grad(), precision_context(opts['precision'], device_type):
        times = [
            clock.time(lambda: model(images)) for _ in range(opts['warmup'] + opts['eval_batches'])
        ]
        batch_s = statistics.median(times[opts['warmup']:])
        if opts['path'] == 'reference' or model.prompt_learner.image_conditional:
            result.update(batch_s=batch_s, images_per_s=opts['eval_batch'] / batch_s)
        else:
            model.text_cache.clear()
            text_s = clock.time(lambda: model.current_text_features(model.prompt_learner()))
            num_images = opts['images_per_class'] * opts['classes']
            total = text_s + num_images / opts['eval_batch'] * batch_s
            result.update(batch_s=batch_s, text_s=text_s, images_per_s=num_images / total)
    return result


def measure_tpt(model, opts: dict) -> dict:
    """Seconds per test image of TPT, and each timed image's logits (to compare the paths)."""
    import torch

    from maple_mm.engine.optimizers.precision import precision_context
    from maple_mm.models.test_time import TestTimeTuner
    size = model.backbone.clip.visual.image_size[0]
    device_type = torch.device(opts['device']).type
    model.eval()
    tuner = TestTimeTuner(model, loss_scaling=opts['precision'] == 'fp16')
    clock = Clock(opts['device'])
    times, cpu_times, logits = [], [], []
    for index in range(opts['warmup'] + opts['tpt_images']):
        generator = torch.Generator().manual_seed(100 + index)
        views = torch.randn(opts['tpt_views'] + 1, 3, size, size, generator=generator)
        views = views.to(opts['device'])
        cpu_start = time.process_time()
        with precision_context(opts['precision'], device_type):
            times.append(clock.time(lambda: logits.append(tuner(views).float().cpu())))
        cpu_times.append(time.process_time() - cpu_start)
    timed = logits[opts['warmup']:]
    image_s = statistics.median(times[opts['warmup']:])
    return dict(
        image_s=image_s,
        images_per_s=1 / image_s,
        # CPU seconds of the process's threads: on a machine others share, the figure their
        # load changes least
        image_cpu_s=statistics.median(cpu_times[opts['warmup']:]),
        predictions=[int(x.argmax()) for x in timed],
        logits=[x.flatten().tolist() for x in timed])


def compare_paths(model, opts: dict) -> dict:
    """Largest logit and relative text-feature differences, in fp32."""
    import torch

    from maple_mm.models import Prompts
    size = model.backbone.image_size[0]
    images = torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(2))
    images = images.to(opts['device'])
    model.eval()
    outputs = {}
    learner = model.prompt_learner
    with torch.no_grad():
        for efficient in (True, False):
            model.efficient = efficient
            prompts = learner(model.image_features(images, Prompts())) \
                if learner.image_conditional else learner()
            outputs[efficient] = (model(images), model.text_features(prompts))
    (logits, text), (ref_logits, ref_text) = outputs[True], outputs[False]
    return dict(
        max_logit_diff=float((logits - ref_logits).abs().max()),
        max_text_rel_diff=float(((text - ref_text).norm(dim=-1) / ref_text.norm(dim=-1)).max()))


def peak_memory_mib(device: str) -> float:
    if device.startswith('cuda'):
        import torch
        return torch.cuda.max_memory_allocated() / 2**20
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(opts: dict) -> dict:
    import torch
    if opts['threads']:
        torch.set_num_threads(opts['threads'])
    model = build_model(opts)
    if opts['device'].startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    measure = dict(train=measure_train, eval=measure_eval, tpt=measure_tpt)[opts['kind']]
    result = measure(model, opts)
    result['peak_mib'] = peak_memory_mib(opts['device'])
    if opts['kind'] == 'eval' and opts['path'] == 'efficient' and opts['compare']:
        result.update(compare_paths(model, opts))
    return result


# -- driver: one subprocess per measurement, then the table --------------------------
def run_worker(opts: dict) -> dict:
    if opts['in_process']:
        return worker(opts)
    env = dict(os.environ, HF_HUB_OFFLINE='1', PYTHONPATH=REPO_ROOT)
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), '--worker',
         json.dumps(opts)],
        env=env,
        capture_output=True,
        text=True)
    text = proc.stdout + proc.stderr
    if proc.returncode == 0:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    oom_signs = ('out of memory', 'MemoryError', "can't allocate memory", 'DefaultCPUAllocator')
    if proc.returncode == -9 or any(s in text for s in oom_signs):
        return dict(oom=True, note='ran out of memory')
    raise RuntimeError(f'benchmark worker failed ({opts}):\n{text[-3000:]}')


def memory_limit_mib(device: str) -> float:
    if device.startswith('cuda'):
        import torch
        return torch.cuda.get_device_properties(torch.device(device)).total_memory / 2**20
    with open('/proc/meminfo') as f:
        info = dict(line.split(':', 1) for line in f)
    return int(info['MemAvailable'].split()[0]) / 1024


def extrapolate(points: Dict[int, float], classes: int) -> Optional[float]:
    """Linear in the number of classes through the two largest measured counts."""
    known = sorted(c for c in points if c < classes)
    if len(known) < 2:
        return None
    c0, c1 = known[-2:]
    slope = (points[c1] - points[c0]) / (c1 - c0)
    return points[c1] + slope * (classes - c1)


def reference_train_estimate_mib(opts: dict) -> float:
    """Activation memory of the reference text tower in training (fp32, 77 positions)."""
    widths = {'tiny': (32, 4)}
    width, layers = widths.get(opts['model'], (512, 12))  # ViT-B text tower otherwise
    scale = 1 if opts['precision'] == 'fp32' else 0.6
    return scale * REFERENCE_TRAIN_BYTES * opts['classes'] * 77 * width * layers / 2**20


def estimated_peak(opts: dict, results: dict) -> Optional[float]:
    peaks = {
        c: r['peak_mib']
        for (p, k, c), r in results.items()
        if p == opts['path'] and k == opts['kind'] and 'peak_mib' in r
    }
    estimate = extrapolate(peaks, opts['classes'])
    if estimate is None and opts['path'] == 'reference' and opts['kind'] in ('train', 'tpt'):
        base = max((r['peak_mib'] for r in results.values() if 'peak_mib' in r), default=0)
        estimate = base + reference_train_estimate_mib(opts)
    return estimate


def run_all(args, method: str) -> dict:
    limit = args.memory_limit_gib * 1024 if args.memory_limit_gib else \
        0.9 * memory_limit_mib(args.device)
    results = {}
    train_batch = method_train_batch(method) and (args.train_batch or method_train_batch(method))
    kinds = [k for k in args.kinds if k != 'train' or train_batch]
    for classes in sorted(args.classes):
        for path in args.paths:
            for kind in kinds:
                opts = dict(
                    kind=kind,
                    path=path,
                    classes=classes,
                    model=args.model,
                    method=method,
                    depth=args.depth,
                    device=args.device,
                    precision=args.precision,
                    train_batch=train_batch,
                    eval_batch=args.eval_batch,
                    steps=args.steps,
                    eval_batches=args.eval_batches,
                    warmup=args.warmup,
                    images_per_class=args.images_per_class,
                    tpt_views=args.tpt_views,
                    tpt_images=args.tpt_images,
                    threads=args.threads,
                    compare=not args.no_compare,
                    in_process=args.in_process)
                estimate = estimated_peak(opts, results)
                if estimate is not None and estimate > limit:
                    result = dict(
                        oom=True,
                        note=f'needs ~{estimate / 1024:.1f} GiB > '
                        f'{limit / 1024:.1f} GiB',
                        estimated_peak_mib=estimate)
                else:
                    result = run_worker(opts)
                results[(path, kind, classes)] = result
                print(
                    f'  {path:9s} {kind:5s} {classes:5d} classes: {summary(result)}',
                    file=sys.stderr,
                    flush=True)
    return results


def summary(result: dict) -> str:
    if result.get('oom'):
        return 'OOM (' + result['note'] + ')'
    return ', '.join(f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}'
                     for k, v in result.items() if k not in ('logits', 'predictions'))


def tpt_agreement(results: dict, classes: int) -> Optional[str]:
    """'2/2 images, max |logit difference| 1.2e-06' of the two paths' TPT, if both ran."""
    ref, eff = (results.get((path, 'tpt', classes), {}) for path in PATHS)
    if 'predictions' not in ref or 'predictions' not in eff:
        return None
    same = sum(a == b for a, b in zip(ref['predictions'], eff['predictions']))
    diff = max(max(abs(x - y) for x, y in zip(a, b)) for a, b in zip(ref['logits'], eff['logits']))
    return f'{same}/{len(ref["predictions"])} images, max |logit difference| {diff:.1e}'


def estimated(results: dict, path: str, kind: str, key: str, classes: int) -> Optional[float]:
    points = {c: r[key] for (p, k, c), r in results.items() if p == path and k == kind and key in r}
    return extrapolate(points, classes)


def cell(results: dict, path: str, kind: str, key: str, classes: int, fmt: str) -> tuple:
    """(text, value, is_estimate) of one table cell."""
    result = results.get((path, kind, classes))
    if result is None:
        return '-', None, False
    if result.get('oom'):
        if key == 'peak_mib':
            value = result.get('estimated_peak_mib')
        elif key == 'images_per_s' and kind == 'tpt':  # time is linear in classes, not its inverse
            seconds = estimated(results, path, kind, 'image_s', classes)
            value = None if seconds is None else 1 / seconds
        else:
            value = estimated(results, path, kind, key, classes)
        if value is None:
            return 'OOM', None, False
        return f'OOM/~{value:{fmt}}', value, True
    return f'{result[key]:{fmt}}', result[key], False


def ratio(a: tuple, b: tuple, invert: bool = False) -> str:
    if a[1] is None or b[1] is None:
        return 'ref OOM' if a[0].startswith('OOM') and b[1] is not None else '-'
    value = b[1] / a[1] if invert else a[1] / b[1]
    return ('~' if a[2] or b[2] else '') + f'{value:.2f}x'


def print_table(results: dict, args, method: str) -> None:
    unit = 'MiB peak RSS' if args.device == 'cpu' else 'MiB max allocated'
    rows = [('train step (s)', 'train', 'step_s', '.3f', False),
            ('eval images/s', 'eval', 'images_per_s', '.2f', True),
            ('TPT images/s', 'tpt', 'images_per_s', '.4f', True),
            ('TPT CPU time per image (s)', 'tpt', 'image_cpu_s', '.1f', False),
            (f'train memory ({unit})', 'train', 'peak_mib', '.0f', False),
            (f'eval memory ({unit})', 'eval', 'peak_mib', '.0f', False),
            (f'TPT memory ({unit})', 'tpt', 'peak_mib', '.0f', False)]
    rows = [row for row in rows if row[1] in args.kinds]
    import torch
    threads = args.threads or torch.get_num_threads()
    train_batch = method_train_batch(method) and (args.train_batch or method_train_batch(method))
    print(f'\n{method} benchmark: {args.model} (random weights), {args.device}' +
          (f' ({threads} threads)' if args.device == 'cpu' else '') +
          f', {args.precision}; train batch {train_batch or "-"}, eval batch '
          f'{args.eval_batch}, {args.images_per_class} test images per class' +
          (f'; TPT: {args.tpt_views} views + the original, {args.tpt_images} timed images'
           if 'tpt' in args.kinds else ''))
    header = f'{"measure":34s} {"classes":>7s} {"reference":>14s} {"efficient":>12s} {"ratio":>9s}'
    print(header)
    print('-' * len(header))
    for label, kind, key, fmt, higher_is_better in rows:
        for classes in sorted(args.classes):
            ref = cell(results, 'reference', kind, key, classes, fmt)
            eff = cell(results, 'efficient', kind, key, classes, fmt)
            print(f'{label:34s} {classes:7d} {ref[0]:>14s} {eff[0]:>12s} '
                  f'{ratio(ref, eff, invert=higher_is_better):>9s}')
    print('ratio: reference / efficient for time and memory, efficient / reference for '
          'images/s; ~ marks figures extrapolated linearly in the number of classes.')
    for classes in sorted(args.classes):
        losses = [results.get((p, 'train', classes), {}).get('first_loss') for p in PATHS]
        if None not in losses:
            print(f'{classes:5d} classes: training loss of the first step, reference '
                  f'{losses[0]:.6f}, efficient {losses[1]:.6f} (|difference| '
                  f'{abs(losses[0] - losses[1]):.1e})')
    finite = [r['finite'] for r in results.values() if 'finite' in r]
    if finite:
        print(f'training losses finite in every measurement: {"yes" if all(finite) else "NO"}')
    for classes in sorted(args.classes):
        agreement = tpt_agreement(results, classes)
        if agreement:
            print(f'{classes:5d} classes: TPT predictions equal on both paths for {agreement}')
    for classes in sorted(args.classes):
        result = results.get(('efficient', 'eval', classes), {})
        if 'max_logit_diff' in result:
            print(f'{classes:5d} classes, fp32: max |logit difference| '
                  f'{result["max_logit_diff"]:.2e}, max relative text-feature difference '
                  f'{result["max_text_rel_diff"]:.2e}')
        if 'text_s' in result:
            print(f'{classes:5d} classes: efficient text features once per class set '
                  f'{result["text_s"]:.3f} s, image batch {result["batch_s"]:.3f} s')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--method',
        nargs='+',
        default=['maple'],
        choices=[*METHODS, 'all'],
        help='methods to benchmark, one table each (all: every method)')
    parser.add_argument('--classes', type=int, nargs='+', default=[10, 100, 1000])
    parser.add_argument(
        '--kinds',
        nargs='+',
        choices=KINDS,
        default=list(DEFAULT_KINDS),
        help='what to measure: training steps, evaluation, test-time prompt tuning (tpt)')
    parser.add_argument(
        '--tpt-views', type=int, default=63, help='augmented views per TPT image (63: TPT\'s)')
    parser.add_argument('--tpt-images', type=int, default=2, help='timed TPT images')
    parser.add_argument('--paths', nargs='+', choices=PATHS, default=list(PATHS))
    parser.add_argument(
        '--model',
        default='ViT-B-16',
        help="open_clip CLIP name (random weights; a ResNet such as RN50 for the methods that "
        "prompt only the text) or 'tiny' (test CLIP)")
    parser.add_argument(
        '--depth', type=int, help='cap on prompt depths (default: the recipe\'s; 3 for tiny)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N')
    parser.add_argument(
        '--precision',
        choices=[p for p in PRECISION_CHOICES if p != 'amp'],  # one autocast dtype
        default='fp32')
    parser.add_argument(
        '--train-batch', type=int, help='training batch (default: the method\'s recipe)')
    parser.add_argument('--eval-batch', type=int, default=100)
    parser.add_argument('--steps', type=int, default=5, help='timed training steps')
    parser.add_argument('--eval-batches', type=int, default=3, help='timed eval batches')
    parser.add_argument('--warmup', type=int, default=1, help='untimed steps / batches first')
    parser.add_argument(
        '--images-per-class',
        type=int,
        default=50,
        help='test-set size per class for the efficient eval figure '
        '(ImageNet val has 50)')
    parser.add_argument('--threads', type=int, default=0, help='CPU threads (0: torch default)')
    parser.add_argument(
        '--memory-limit-gib',
        type=float,
        default=0,
        help='skip (report OOM) above this estimated peak (default: 90%% of '
        'available RAM, or of GPU memory)')
    parser.add_argument(
        '--no-compare', action='store_true', help='skip the fp32 logit comparison of the two paths')
    parser.add_argument('--json', help='also write all measurements to this file')
    parser.add_argument(
        '--in-process',
        action='store_true',
        help='measure in this process (quick checks; peak memory then '
        'accumulates across measurements)')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.depth is None and args.model == 'tiny':
        args.depth = 3
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    methods = list(METHODS) if 'all' in args.method else args.method
    measured = []
    for method in methods:
        results = run_all(args, method)
        print_table(results, args, method)
        measured += [
            dict(method=method, path=p, kind=k, classes=c, **r) for (p, k, c), r in results.items()
        ]
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(measured, f, indent=2)


if __name__ == '__main__':
    main()
