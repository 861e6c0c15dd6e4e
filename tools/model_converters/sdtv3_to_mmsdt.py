"""Convert a released SDT-V3 ImageNet checkpoint into an mmengine checkpoint.

    python tools/model_converters/sdtv3_to_mmsdt.py IN.pth OUT.pth

The output holds ``{'meta': ..., 'state_dict': ...}`` with backbone keys under ``backbone.``
and the ImageNet classifier under ``head.fc.`` (mmpretrain naming): exactly the keys of
mmpretrain's ``ImageClassifier(backbone=mmsdt.ESpikeFormer, neck=GlobalAveragePooling,
head=mmsdt.SpikeLinearClsHead)``. It loads with stock ``torch.load`` (no pickled Namespace)
and with ``init_cfg=dict(type='Pretrained', ...)``. The key mapping and the strict check
against the matching ``ESpikeFormer`` are
:func:`mmsdt.models.backbones.e_spikeformer_converter.convert_released_state_dict`.
"""
import argparse
import os
import sys

import torch

from mmsdt.models.backbones.e_spikeformer_converter import (convert_released_state_dict,
                                                             extract_backbone_state_dict)
from mmsdt.utils import load_checkpoint_file


def convert(src: str, dst: str) -> dict:
    """Write the mmengine checkpoint of released file ``src`` to ``dst``; returns its meta."""
    ckpt = load_checkpoint_file(src)
    sd = extract_backbone_state_dict(ckpt, source=src)
    state_dict, arch = convert_released_state_dict(sd, source=src)
    meta = dict(source=os.path.basename(src), arch=arch, epoch=ckpt.get('epoch'),
                converter='mmsdt sdtv3_to_mmsdt')
    out_dir = os.path.dirname(os.path.abspath(dst))
    os.makedirs(out_dir, exist_ok=True)
    torch.save(dict(meta=meta, state_dict=state_dict), dst)
    return meta


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='released checkpoint (.pth)')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    args = parser.parse_args(argv)
    meta = convert(args.src, args.dst)
    print(f'wrote {args.dst}: ESpikeFormer embed_dims={meta["arch"]["embed_dims"]}')
    return 0


if __name__ == '__main__':
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    sys.exit(main())
