"""mmsdt runners: ``mmsdt.SafeRunner`` (strict, safe loading; resume from the newest intact
checkpoint; atomic saves)."""
from .resume import check_training_checkpoint, resume_candidates
from .safe_runner import SafeRunner, with_atomic_checkpoint_hook

__all__ = [
    'SafeRunner', 'check_training_checkpoint', 'resume_candidates', 'with_atomic_checkpoint_hook'
]
