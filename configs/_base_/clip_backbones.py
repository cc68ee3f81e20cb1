# The other OpenAI CLIPs of CoOp's tables (MODEL.BACKBONE.NAME of KaiyangZhou/CoOp's
# configs/trainers/CoOp/rn50*.yaml, rn101*.yaml, vit_b32*.yaml); ViT-B/16 is clip_vit_b16.py's
# clip_backbone. Their yamls keep the INPUT section of the ViT-B/16 ones (224 pixels, CLIP's
# normalisation), so a recipe on one of them takes clip_vit_b16.py's inputs, lists this file
# too and sets model.backbone to one of these. The ResNets run their image tower as open_clip
# does (ModifiedResNet, attention pooling); the methods that add vision prompts need a ViT.
# OpenAI weights need QuickGELU: OpenCLIPBackbone picks it from the pretrained tag.
clip_rn50 = dict(type='OpenCLIPBackbone', model_name='RN50', pretrained='openai')
clip_rn101 = dict(type='OpenCLIPBackbone', model_name='RN101', pretrained='openai')
clip_vit_b32 = dict(type='OpenCLIPBackbone', model_name='ViT-B-32', pretrained='openai')
