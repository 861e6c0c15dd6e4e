# mmsdt_cls_runtime.py plus the large models' EMA (reference §3.2: timm ModelEma, decay
# 0.99996, every iteration, over the whole state dict): mmengine's EMAHook with momentum
# 1 - 0.99996 = 4e-5 on parameters and BN buffers. Validation runs with the EMA weights, and a
# saved checkpoint's `state_dict` holds them (the raw weights go to its `ema_state_dict`), so
# tools/test.py evaluates the EMA model (upstream never saves it, reference §3.3).
_base_ = './mmsdt_cls_runtime.py'

custom_hooks = [
    dict(type='mmsdt.ClassDataCheckHook'),
    dict(type='EMAHook', momentum=4e-5, update_buffers=True, priority='ABOVE_NORMAL'),
]
