"""The known-harmless warning filter of every tool (mmsdt.utils.quiet): narrow by message,
category and module; log records by pattern; anything else still shows."""
import logging
import warnings

import pytest
from mmengine.logging import MMLogger

from mmsdt.utils.quiet import (KNOWN_HARMLESS_LOG_WARNINGS, KNOWN_HARMLESS_WARNINGS,
                               HideKnownLogWarnings, hide_known_warnings)

SAVE_DIR = ("Failed to add <class 'mmengine.visualization.vis_backend.LocalVisBackend'>, "
            'please provide the `save_dir` argument.')
VISUALIZER = 'mmengine.visualization.visualizer'


def _shown(message, category=UserWarning, module=VISUALIZER):
    """The warnings that reach the user when ``module`` warns ``message`` after the filter."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        hide_known_warnings()
        warnings.warn_explicit(message, category, 'visualizer.py', 1, module=module)
    return [str(w.message) for w in caught]


def test_known_warning_is_hidden():
    assert _shown(SAVE_DIR) == []


@pytest.mark.parametrize('message,category,module', [
    ('a new warning of the same package', UserWarning, VISUALIZER),  # other message
    (SAVE_DIR, DeprecationWarning, VISUALIZER),  # other category
    (SAVE_DIR, UserWarning, 'mmsdt.apis.inference'),  # other module
])
def test_unknown_warning_still_shows(message, category, module):
    assert _shown(message, category, module) == [message]


def _record(message, level=logging.WARNING):
    return logging.LogRecord('mmengine', level, __file__, 1, message, None, None)


def test_log_filter_drops_only_known_warning_records():
    keep = HideKnownLogWarnings()
    known = 'Failed to search registry with scope "mmdet" in the "function" registry tree.'
    assert not keep.filter(_record(known))
    assert keep.filter(_record(known, logging.ERROR))  # an error is never hidden
    assert keep.filter(_record('Failed to search registry: something else'))
    assert keep.filter(_record('see: ' + known))  # matched at the start only


def test_hide_known_warnings_filters_loggers_once():
    logger = MMLogger.get_instance('mmsdt-test-quiet')  # the current instance from here on
    runner_logger = logging.getLogger('mmsdt-test-quiet-runner')
    try:
        hide_known_warnings(runner_logger)
        hide_known_warnings(runner_logger)
        for target in (logger, runner_logger):
            assert sum(isinstance(f, HideKnownLogWarnings) for f in target.filters) == 1
        cpp = logging.getLogger('torch.utils.cpp_extension')
        assert not cpp.filters[-1].filter(
            _record("No CUDA runtime is found, using CUDA_HOME='/usr/local'"))
    finally:
        for target in (logger, runner_logger):
            for f in list(target.filters):
                target.removeFilter(f)


def test_every_pattern_is_narrow():
    """Each Python warning pattern names a message, a category and a module."""
    for message, category, module in KNOWN_HARMLESS_WARNINGS:
        assert message and module.endswith(r'\Z') and issubclass(category, Warning)
    assert all(len(p) > 20 for p in KNOWN_HARMLESS_LOG_WARNINGS)
