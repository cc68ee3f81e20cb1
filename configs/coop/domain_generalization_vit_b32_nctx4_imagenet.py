# CoOp, the CoOp paper's Table 1 on ViT-B/32 with M=4: train on ImageNet (all classes, 16 shots,
# 4 random context vectors: scripts/coop/main.sh NCTX 4), then test ImageNet and ImageNet-V2,
# -Sketch, -A and -R in the same run.
_base_ = ['../_base_/recipes/coop_cross_dataset_vit_b32.py']

model = dict(prompt_learner=dict(n_ctx=4))
protocol = 'domain_generalization'
test_cfg = {{_base_.domain_generalization_test_cfg}}
