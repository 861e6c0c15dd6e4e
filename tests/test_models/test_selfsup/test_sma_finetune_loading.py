"""SMA pre-training checkpoint -> fine-tuning backbone: strict, layer scales added explicitly."""
import pytest
import torch

from mmsdt.models.selfsup import (convert_sma_checkpoint, load_sma_pretrained,
                                  sma_backbone_state_dict)
from mmsdt.utils.checkpoint import CheckpointError


def pretrained_state(tiny_mae):
    torch.manual_seed(0)
    model = tiny_mae()
    with torch.no_grad():  # distinct from any initialisation
        for p in model.backbone.parameters():
            p.add_(torch.randn_like(p))
    return model, model.state_dict()


def test_encoder_loads_and_layer_scales_are_added(tmp_path, tiny_mae, finetune_backbone,
                                                  tiny_arch):
    model, state = pretrained_state(tiny_mae)
    backbone = finetune_backbone(layer_scale=0.5)
    converted, added = sma_backbone_state_dict(state, backbone)
    depth = tiny_arch['depth']
    assert sorted(added) == sorted(f'block3.{i}.layer_scale{j}'
                                   for i in range(depth) for j in (1, 2))
    path = tmp_path / 'sma.pth'
    torch.save(dict(state_dict=state, meta=dict()), path)
    assert load_sma_pretrained(backbone, str(path)) == added
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(backbone.state_dict()[key], value), key
    for key in added:
        assert torch.all(backbone.state_dict()[key] == 0.5)
    # decoder and head entries are not taken
    assert not any(k.startswith(('neck', 'head', 'norm')) for k in converted)


def test_converted_file_loads_through_init_cfg(tmp_path, tiny_mae, finetune_backbone,
                                                  tiny_arch):
    model, state = pretrained_state(tiny_mae)
    src = tmp_path / 'sma.pth'
    torch.save(dict(state_dict=state), src)
    out = tmp_path / 'encoder.pth'
    meta = convert_sma_checkpoint(str(src), finetune_backbone(), str(out))
    assert meta['max_value'] == 4 and len(meta['sma_added_keys']) == 2 * tiny_arch['depth']
    backbone = finetune_backbone(init_cfg=dict(type='Pretrained', checkpoint=str(out),
                                               prefix='backbone.'))
    backbone.init_weights()
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(backbone.state_dict()[key], value), key


def test_wrong_size_names_key_and_both_shapes(tmp_path, tiny_mae, finetune_backbone,
                                                  tiny_arch):
    _, state = pretrained_state(tiny_mae)
    wider = dict(tiny_arch, embed_dims=(8, 16, 48))
    with pytest.raises(CheckpointError, match=r'backbone\.\S+ has shape \(\d+(, \d+)*\) in '
                       r'the pre-training checkpoint but \(\d+(, \d+)*\) in the fine-tuning'):
        sma_backbone_state_dict(state, finetune_backbone(wider), 'sma.pth')
    deeper = dict(tiny_arch, depth=3)
    with pytest.raises(CheckpointError, match=r'missing .*block3\.2\.'):
        sma_backbone_state_dict(state, finetune_backbone(deeper), 'sma.pth')
    with pytest.raises(CheckpointError, match='does not have'):
        sma_backbone_state_dict(state, finetune_backbone(dict(tiny_arch, depth=1)), 'sma.pth')
    with pytest.raises(CheckpointError, match='not an SMA pre-training checkpoint'):
        sma_backbone_state_dict({'fc.weight': torch.zeros(1)}, finetune_backbone())
    with pytest.raises(CheckpointError, match='no backbone'):
        sma_backbone_state_dict({'neck.norm.weight': torch.zeros(1)}, finetune_backbone())
