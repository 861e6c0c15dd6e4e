"""Evaluate a checkpoint with a detection, segmentation or classification config.

The checkpoint must fit the model exactly (every key, every shape); otherwise the error names
the first offending key. Classification configs report top-1 / top-5 (mmpretrain's
``Accuracy``) on their val / test folder.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
                        [--show-dir DIR] [--firing-rates] [--cfg-options k=v ...]
                        [--launcher ...]
"""
import argparse
import os.path as osp
import sys


from mmengine.model import is_model_wrapper

from mmsdt.utils import load_model_checkpoint
from mmsdt.utils.launch import (add_common_args, build_runner, finish_distributed,
                                load_tool_config)
from mmsdt.utils.quiet import hide_known_warnings


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump predictions to a pickle file (.pkl)')
    parser.add_argument('--show-dir', help='save drawn predictions to this dir (in work dir)')
    parser.add_argument('--firing-rates', action='store_true',
                        help='record every spiking neuron over the test set and write '
                        'firing_rates_test.json / .png into the log dir (mmsdt.FiringRateHook)')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    hide_known_warnings()
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint file not found: {args.checkpoint}')
    cfg = load_tool_config(args)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        vis_hook = cfg.default_hooks.get('visualization')
        if vis_hook is None:
            raise ValueError('--show-dir needs default_hooks.visualization in the config')
        vis_hook.draw = True
        key = 'test_out_dir' if 'test_out_dir' in vis_hook or cfg.default_scope == 'mmdet' \
            else 'out_dir'
        vis_hook[key] = args.show_dir
    if args.firing_rates:
        hooks = list(cfg.get('custom_hooks') or [])
        hooks.append(dict(type='mmsdt.FiringRateHook', modes=('test', )))
        cfg.custom_hooks = hooks
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl file, got {args.out}')
        cfg.test_evaluator = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))
    runner = build_runner(cfg)
    hide_known_warnings(runner.logger)
    # mmengine's load_from only warns about missing / unexpected / resized keys and would
    # evaluate a partly random model: load strictly first (the runner then loads the same
    # file again, so its hooks, e.g. EMA, see it as usual)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    load_model_checkpoint(model, args.checkpoint, logger=runner.logger)
    runner.test()
    finish_distributed()


if __name__ == '__main__':
    # the repository root: projects.* named by the configs' custom_imports
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    main()
