"""The errors of mmsdt's data checks (:class:`~mmsdt.engine.ClassDataCheckHook`)."""


class ClassDataError(ValueError):
    """Data and model disagree about the classes: an empty class folder, a head whose
    ``num_classes`` is not the number of classes of the data, labels outside the head, or
    class names that differ between the train, val / test data and the checkpoint."""


class InputSizeError(ValueError):
    """The train and val pipelines of a classification config give inputs of different
    shapes (the model would be evaluated on another image size than it trains on)."""
