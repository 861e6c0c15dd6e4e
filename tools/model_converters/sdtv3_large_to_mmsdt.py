"""Convert a released large SDT-V3 checkpoint (83M / 171M) into an mmengine checkpoint.

    python tools/model_converters/sdtv3_large_to_mmsdt.py IN.pth OUT.pth [--max-value D]
        [--arch 83m|171m]

The output holds ``{'meta': ..., 'state_dict': ...}`` with the keys of mmpretrain's
``ImageClassifier(backbone=mmsdt.ESpikeFormerLarge, neck=GlobalAveragePooling,
head=mmsdt.SpikeDistillClsHead)`` (``backbone.*``, ``head.head.*``, ``head.head_kd.*``) and
``meta['max_value']`` = D. D is read from the released name ("..._1x4", "..._1x8", "..._1x8_384");
a file whose name does not say needs ``--max-value``. ``--arch`` refuses a file of the other
size. Key mapping and strict checks:
:func:`mmsdt.models.backbones.e_spikeformer_large_converter.convert_released_large_state_dict`.
"""
import argparse
import os
import sys

import torch

from mmsdt.models.backbones.e_spikeformer_large_converter import \
    convert_released_large_state_dict
from mmsdt.utils import load_checkpoint_file


def convert(src: str, dst: str, max_value=None, arch=None) -> dict:
    """Write the mmengine checkpoint of released file ``src`` to ``dst``; returns its meta."""
    ckpt = load_checkpoint_file(src)
    state_dict, meta = convert_released_large_state_dict(ckpt, source=src, max_value=max_value,
                                                         arch=arch)
    meta.update(epoch=ckpt.get('epoch'), converter='mmsdt sdtv3_large_to_mmsdt')
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    torch.save(dict(meta=meta, state_dict=state_dict), dst)
    return meta


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='released checkpoint (.pth)')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument('--max-value', type=int, default=None,
                        help='D, the max spike count (4 for "1x4" files, 8 for "1x8"); needed '
                        'when the file name does not say')
    parser.add_argument('--arch', choices=('83m', '171m'), default=None,
                        help='expected size (default: inferred from the shapes)')
    args = parser.parse_args(argv)
    meta = convert(args.src, args.dst, args.max_value, args.arch)
    print(f'wrote {args.dst}: ESpikeFormerLarge {meta["arch"]}, D = {meta["max_value"]}, '
          f'{meta["num_classes"]} classes')
    return 0


if __name__ == '__main__':
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # as the other converters
    sys.exit(main())
