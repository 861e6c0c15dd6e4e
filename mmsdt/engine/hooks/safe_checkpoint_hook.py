"""Keep mmengine checkpoints loadable with ``torch.load(weights_only=True)``."""
from mmengine.hooks import Hook

from mmsdt.registry import HOOKS


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Drop the message hub's logged-scalar histories from saved checkpoints.

    mmengine pickles its ``HistoryBuffer`` log windows together with their statistics
    methods (``builtins.getattr`` references). Since torch 2.6 ``torch.load`` defaults to
    ``weights_only=True`` and refuses them, so ``--resume`` and ``load_from`` of a stock
    mmengine 0.10.7 checkpoint fail. Without these histories every remaining object is on
    mmsdt's allow-list (tensors, numpy arrays, plain containers; see
    :mod:`mmsdt.utils.checkpoint`) and loading needs no ``weights_only=False``. The only
    effect on a resumed run: smoothed values in the training log restart their window.
    Add it with ``custom_hooks = [dict(type='mmsdt.SafeCheckpointHook')]``.
    """
    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        hub = checkpoint.get('message_hub')
        if isinstance(hub, dict) and 'log_scalars' in hub:
            hub['log_scalars'] = {}
