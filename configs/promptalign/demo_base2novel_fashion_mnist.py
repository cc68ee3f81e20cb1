# Demo: PromptAlign on the prompts the MaPLe demo trains (make demo:
# work_dirs/demo/epoch_5.pth), on Fashion-MNIST with the demo's random ViT-B/32
# (../_base_/demo_fashion_mnist.py). The source statistics come from the base classes'
# training images through the same prompts:
#   make demo
#   python tools/source_statistics.py configs/promptalign/demo_base2novel_fashion_mnist.py \
#       work_dirs/demo/epoch_5.pth
#   python tools/test.py configs/promptalign/demo_base2novel_fashion_mnist.py \
#       work_dirs/demo/epoch_5.pth
# prints Base / Novel / HM, with progress lines while each image is tuned. 16 views per
# image (the benchmarks: 64), the 4 most confident kept, the validation images: see
# demo_test_time_dataset.
_base_ = [
    '../_base_/recipes/maple_base2novel.py', '../_base_/demo_fashion_mnist.py',
    '../_base_/test_time.py'
]

# Nothing is trained here: the checkpoint's prompts are the starting point of every image.
train_dataloader = train_cfg = optim_wrapper = param_scheduler = None
precision = dict(cuda='fp16', cpu='fp32')
model = dict(backbone={{_base_.demo_backbone}})
test_dataloader = dict(batch_size=1, num_workers=2, dataset={{_base_.demo_test_time_dataset}})
test_cfg = dict(
    type='TestTimeTuningLoop',
    tuning=dict(lr=4e-2, selection=0.25, alignment={{_base_.promptalign_alignment}}))
source_statistics = dict(
    file='work_dirs/demo/source_statistics_fashion_mnist.pth',
    dataset={{_base_.demo_source_dataset}},
    batch_size=32,
    num_workers=2)
