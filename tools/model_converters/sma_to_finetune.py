"""Turn a spike-masked autoencoder (SMA) pre-training checkpoint into the encoder file that a
fine-tuning config loads.

    python tools/model_converters/sma_to_finetune.py PRETRAIN.pth FINETUNE_CONFIG OUT.pth

The fine-tuning config's backbone (an ``mmsdt.ESpikeFormerLarge``) is built to check every key
and shape; its layer scales, which the SMA encoder lacks, are added with the config's
``layer_scale_init_value`` and listed. Then set, in the fine-tuning config,
``model.backbone.init_cfg = dict(type='Pretrained', checkpoint='OUT.pth', prefix='backbone.')``.
Conversion and checks: :func:`mmsdt.models.selfsup.convert_sma_checkpoint`.
"""
import argparse
import os
import sys


def convert(src: str, config: str, dst: str) -> dict:
    """Write the fine-tuning encoder of SMA checkpoint ``src`` for ``config`` to ``dst``;
    returns its meta."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import mmsdt.models  # noqa: F401  (registers the backbones)
    from mmsdt.models.selfsup import convert_sma_checkpoint
    from mmsdt.registry import MODELS
    cfg = Config.fromfile(config)
    backbone_cfg = cfg.model.get('backbone')
    if backbone_cfg is None:
        raise ValueError(f'{config}: model has no backbone to convert the SMA encoder for')
    backbone_cfg = backbone_cfg.copy()
    backbone_cfg.pop('init_cfg', None)  # built only for its keys and shapes
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        backbone = MODELS.build(backbone_cfg)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    return convert_sma_checkpoint(src, backbone, dst)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='SMA pre-training checkpoint (a runner checkpoint .pth)')
    parser.add_argument('config', help='the fine-tuning config')
    parser.add_argument('dst', help='output encoder file (.pth)')
    args = parser.parse_args(argv)
    meta = convert(args.src, args.config, args.dst)
    print(f'wrote {args.dst}: D = {meta["max_value"]}, {len(meta["sma_added_keys"])} layer-scale '
          f'tensors added from the config\'s layer_scale_init_value')
    return 0


if __name__ == '__main__':
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # as the other converters
    sys.exit(main())
