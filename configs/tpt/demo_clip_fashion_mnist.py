# Demo: TPT on CLIP (the context "a photo of a", nothing trained, no checkpoint), on
# Fashion-MNIST with the demo's random ViT-B/32 (../_base_/demo_fashion_mnist.py):
#   python tools/test.py configs/tpt/demo_clip_fashion_mnist.py
# prints Base / Novel / HM, with progress lines while each image is tuned. A random CLIP
# knows no garments: expect chance (20%); with real weights add
# --cfg-options model.backbone.pretrained=openai. 16 views per image (the benchmarks: 64),
# the 4 most confident kept, the validation images: see demo_test_time_dataset.
_base_ = [
    '../_base_/recipes/coop_base2novel.py', '../_base_/demo_fashion_mnist.py',
    '../_base_/test_time.py'
]

train_dataloader = train_cfg = optim_wrapper = param_scheduler = None
precision = dict(cuda='fp16', cpu='fp32')
# TPT's CLIP: 4 context vectors from "a photo of a" (tc.py: --ctx_init a_photo_of_a).
model = dict(
    backbone={{_base_.demo_backbone}}, prompt_learner=dict(n_ctx=4, ctx_init='a photo of a'))
test_dataloader = dict(batch_size=1, num_workers=2, dataset={{_base_.demo_test_time_dataset}})
# The context is built, not loaded: the prompts tuned are zero-shot CLIP's (TPT+CLIP), and
# tools/test.py needs no checkpoint.
test_cfg = dict(
    type='TestTimeTuningLoop', tuned_method='ZeroShotCLIP', tuning=dict(lr=5e-3, selection=0.25))
