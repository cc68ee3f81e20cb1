# Test-time prompt tuning (TPT, Shu et al., NeurIPS 2022), and PromptAlign's alignment to
# source statistics (Abdul Samadh et al., NeurIPS 2023): what configs/tpt/ and
# configs/promptalign/ share. Every test image becomes 64 views, the original and 63
# augmented copies (TestTimeViews); the prompts take one AdamW step on the entropy of the
# mean softmax of the 10% most confident views, then the original view is classified
# (TestTimeTuningLoop); the prompts restart from the checkpoint's for every image.
# docs/test-time.md lists the facts and where the references are followed or not.
# Source: tpt_classification.py, data/datautils.py, data/augmix_ops.py (azshue/TPT @63ecbac)

# View 0: the CLIP test transform; views 1-63: RandomResizedCrop (8-100%, bilinear) and a
# flip of the decoded image (datautils.py:62-102, tc.py:164-173: -b 64 gives 63 views).
tpt_views = dict(type='TestTimeViews', num_views=63, size=224)
tpt_pipeline = [dict(type='LoadImageWithPIL'), tpt_views, dict(type='PackInputs')]
# TPT mixes the views of the fine-grained datasets with AugMix, severity 1, over its 9
# operations (tc.py:171-172: augmix = len(set_id) > 1, i.e. every set but the ImageNet family).
tpt_augmix_pipeline = [
    dict(type='LoadImageWithPIL'),
    dict(tpt_views, augmix=True),
    dict(type='PackInputs')
]

# AdamW, lr 5e-3 (tc.py:323), PyTorch's weight decay 0.01 (tc.py:145), 1 step (tc.py:331) on
# the int(64 x 0.1) = 6 lowest-entropy views (tc.py:330). params='all': every prompt-learner
# tensor (CoOp, KgCoOp: the context; MaPLe: all 7, as PromptAlign's TPT+MaPLe); CoCoOp: each
# image's context, ctx + meta_net(feature of the original view) (tc.py:55-58, cocoop.py:172-182).
tpt_tuning = dict(params='all', lr=5e-3, weight_decay=0.01, steps=1, selection=0.1)

# PromptAlign (trainers/prompt_align.py, configs/trainers/PromptAlign/*.yaml of
# jameelhassan/PromptAlign @9290564): TPT on MaPLe's ImageNet cross-dataset prompts (2 context
# tokens, depth 3), all prompt tensors tuned, plus the L1 distance of the selected views' token
# means and variances to the source's, per vision block: blocks 0 and 1, weight 100 / 3
# (ALIGN_LAYER_FROM 0, ALIGN_LAYER_TO 3, DISTR_LOSS_W 100: the loop covers range(0, 3 - 1) and
# divides by 3 - 0, spec P4; kept as run). lr 4e-2 on the ImageNet family (DG_PAlign_*.yaml:40),
# 5e-4 on the fine-grained sets (finegrain_PAlign_*.yaml:40; spec P14: unchecked against the
# paper). No AugMix anywhere: both its augmenter (aug_list = [], pa.py:515) and its caller
# (augmix=False) leave it out (spec P3). The statistics come from source_statistics.file.
promptalign_alignment = dict(layers=(0, 1), weight=100 / 3)
promptalign_imagenet_tuning = dict(tpt_tuning, lr=4e-2, alignment=promptalign_alignment)
promptalign_fine_grained_tuning = dict(tpt_tuning, lr=5e-4, alignment=promptalign_alignment)
# TPT on MaPLe as PromptAlign's code runs it (its TPT+MaPLe row: DISTR_ALIGN False), which
# is where the published TPT+MaPLe numbers come from: its learning rates, no AugMix.
tpt_maple_imagenet_tuning = dict(tpt_tuning, lr=4e-2)
tpt_maple_fine_grained_tuning = dict(tpt_tuning, lr=5e-4)

# PromptAlign's source statistics: the token means and variances of every vision block's
# input over ImageNet's training images, through the MaPLe prompts being tuned (the
# maintainers' description, PromptAlign issues #5 and #12; the repository has no code).
#   python tools/source_statistics.py CONFIG MAPLE_CHECKPOINT   # writes `file`
# The images go through `pipeline` (None: the config's test_pipeline, the CLIP test
# transform; the augmentation the authors used is unspecified); two passes over `dataset`.
source_statistics = dict(
    file='work_dirs/promptalign/source_statistics_imagenet.pth',
    dataset=dict(type='CoOpImageNet', split='train', subsample='all'),  # data_root: data/imagenet
    pipeline=None,
    batch_size=64,
    num_workers=4)
