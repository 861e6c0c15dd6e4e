"""One narrow filter for known-harmless third-party warnings, applied by every tool's ``main``.

Each Python warning is matched by message, category and the module it is attributed to; each
logged warning by a message pattern (mmengine's ``MMLogger``) or by logger name and message
pattern (other Python loggers). Anything else, including a new
warning from the same packages, still shows. The filters are installed in the calling process
only (never at import of the library).
"""
import logging
import re
import warnings
from typing import Optional, Sequence

# (message regex, category, regex of the module the warning is attributed to)
KNOWN_HARMLESS_WARNINGS = (
    # mmengine imports pkg_resources and reloads it in every ``is_installed`` call
    (r'pkg_resources is deprecated as an API', UserWarning,
     r'(mmengine\.utils\.package_utils|importlib)\Z'),
    # the toy seg config keeps mmseg's default (mean over all pixels, ignored ones too)
    (r'Default ``avg_non_ignore`` is False', UserWarning, r'mmseg\.models\.losses\.'
     r'cross_entropy_loss\Z'),
    # stock mmseg decode heads build their losses through the deprecated helper
    (r'``build_loss`` would be deprecated soon', UserWarning, r'mmseg\.models\.builder\Z'),
    # a predicted box / mask polygon that reaches past the image border is drawn clipped
    (r'Warning: The (bbox|polygon) is out of bounds', UserWarning,
     r'mmengine\.visualization\.visualizer\Z'),
    # the Inferencers build the config's visualizer without a save_dir (they draw to out_dir)
    (r"Failed to add <class 'mmengine\.visualization\.vis_backend\.LocalVisBackend'>, "
     r'please provide the `save_dir` argument', UserWarning,
     r'mmengine\.visualization\.visualizer\Z'),
)
# Warnings that mmengine logs (MMLogger) instead of raising: message regexes, matched at the
# start of the message of a WARNING record.
KNOWN_HARMLESS_LOG_WARNINGS = (
    # mmdet / mmseg have no "function" registry; the Inferencers fall back to mmengine's
    r'Failed to search registry with scope "(mmdet|mmseg|mmpretrain)" in the "function" '
    r'registry tree',
    # mmengine's own CheckpointHook uses its deprecated FileClient
    r'"FileClient" will be deprecated in future',
    r'"HardDiskBackend" is the alias of "LocalBackend"',
)
# Warnings of Python loggers other than mmengine's: (logger name, message regex).
KNOWN_HARMLESS_NAMED_LOG_WARNINGS = (
    # torch.compile's C++ toolchain probe on a machine without CUDA (CPU kernels need none)
    ('torch.utils.cpp_extension', r'No CUDA runtime is found'),
)


class HideKnownLogWarnings(logging.Filter):
    """A logger filter that drops WARNING records whose message starts with one of
    ``patterns`` (default :data:`KNOWN_HARMLESS_LOG_WARNINGS`) and lets every other record
    through."""

    def __init__(self, patterns: Sequence[str] = KNOWN_HARMLESS_LOG_WARNINGS):
        super().__init__()
        self.patterns = [re.compile(p) for p in patterns]

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING
                    and any(p.match(record.getMessage()) for p in self.patterns))


def quiet_logger(logger: logging.Logger,
                 patterns: Sequence[str] = KNOWN_HARMLESS_LOG_WARNINGS) -> logging.Logger:
    """Add a :class:`HideKnownLogWarnings` for ``patterns`` to ``logger`` (none if it has one
    already); returns ``logger``."""
    if not any(isinstance(f, HideKnownLogWarnings) for f in logger.filters):
        logger.addFilter(HideKnownLogWarnings(patterns))
    return logger


def hide_known_warnings(logger: Optional[logging.Logger] = None) -> None:
    """Ignore :data:`KNOWN_HARMLESS_WARNINGS` in this process and drop the known log warnings
    of mmengine's current logger (made if there is none, as mmengine's ``print_log`` does)
    and of ``logger`` (e.g. a runner's, made later: pass it once it exists).

    Call it first thing in a tool's ``main``; calling it again adds nothing twice.
    """
    for message, category, module in KNOWN_HARMLESS_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=category, module=module)
    for name, pattern in KNOWN_HARMLESS_NAMED_LOG_WARNINGS:
        quiet_logger(logging.getLogger(name), [pattern])
    from mmengine.logging import MMLogger
    quiet_logger(MMLogger.get_current_instance())
    if logger is not None:
        quiet_logger(logger)
