"""Deployment: the folded, compiled PyTorch inference form and ONNX export of integer-mode
spiking models (checked with onnxruntime). BatchNorm / norm folding itself is
:func:`mmsdt.snn.fold_bn`."""
from .onnx_export import (ExportSummary, OutputDifference, compare_with_onnxruntime,
                          count_neuron_calls, export_onnx, onnx_op_counts)
from .prepare import prepare_for_inference

__all__ = [
    'export_onnx', 'compare_with_onnxruntime', 'onnx_op_counts', 'ExportSummary',
    'OutputDifference', 'prepare_for_inference', 'count_neuron_calls'
]
