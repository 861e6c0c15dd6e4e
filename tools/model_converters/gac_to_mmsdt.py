"""Convert a checkpoint of the official GAC code (bollossom/GAC) into an mmengine checkpoint.

    python tools/model_converters/gac_to_mmsdt.py IN.pth OUT.pth [--config CONFIG]

IN is the file the official scripts save: a bare state dict of the CIFAR MS-ResNet-18 or the
ImageNet MS-ResNet-18 / -34, with GAC or direct coding (``module.`` prefixes of
DataParallel / DistributedDataParallel are dropped). OUT holds ``{'meta': ...,
'state_dict': ...}`` with exactly the keys of the projects/gac classifier (``backbone.*``,
``head.fc.*``): ``load_from``, ``tools/test.py CONFIG OUT`` and a backbone
``init_cfg=dict(type='Pretrained', checkpoint=OUT, prefix='backbone.')`` load it strictly.
Without ``--config`` the model is inferred from the file's keys and shapes; with it, the file
must fit that config's model. The mapping and its checks are
:func:`projects.gac.gac.convert_official_state_dict`; any missing, unknown or resized key is an
error naming it.
"""
import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def convert(src: str, dst: str, config: str = None) -> dict:
    """Write the mmengine checkpoint of official file ``src`` to ``dst``; returns its meta."""
    import torch

    from mmsdt.utils import extract_state_dict, load_checkpoint_file
    from projects.gac.gac import config_target, convert_official_state_dict
    official = extract_state_dict(load_checkpoint_file(src), source=src)
    target = config_target(config) if config else None
    state_dict, variant = convert_official_state_dict(official, target, source=src)
    meta = dict(source=os.path.basename(src), official_keys=len(official), config=config,
                converter='projects/gac gac_to_mmsdt', **variant)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    torch.save(dict(meta=meta, state_dict=state_dict), dst)
    return meta


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='state dict saved by the official GAC code (.pth)')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument('--config', help='projects/gac config whose model the file must fit '
                        '(default: inferred from the keys and shapes)')
    args = parser.parse_args(argv)
    from mmsdt.utils import CheckpointError
    try:
        meta = convert(args.src, args.dst, args.config)
    except (CheckpointError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    from projects.gac.gac import matching_configs
    t = meta['time_steps'] or 'any'
    print(f'wrote {args.dst}: {meta["official_keys"]} official keys -> '
          f'{meta["arch"]}, gate={meta["gate"]}, T={t}, {meta["num_classes"]} classes')
    if not args.config:
        configs = [os.path.relpath(p, REPO) for p in matching_configs(meta)]
        print('configs of this model: ' + (', '.join(configs) or 'none shipped'))
    return 0


if __name__ == '__main__':
    sys.path.insert(0, REPO)  # the repository root: projects.gac.gac (as configs import it)
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()
    sys.exit(main())
