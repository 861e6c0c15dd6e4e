"""Deployment: the folded, compiled PyTorch inference form and ONNX export of integer-mode
spiking models, checked with onnxruntime neuron by neuron (:mod:`.onnx_check`).
BatchNorm / norm folding itself is :func:`mmsdt.snn.fold_bn`."""
from .config_export import ExportReport, export_and_check
from .onnx_check import NeuronCheck, OnnxCheckReport, OutputCheck, check_onnx_file
from .onnx_export import ExportSummary, count_neuron_calls, export_onnx, onnx_op_counts
from .prepare import prepare_for_inference

__all__ = [
    'export_onnx', 'check_onnx_file', 'onnx_op_counts', 'ExportSummary', 'OnnxCheckReport',
    'NeuronCheck', 'OutputCheck', 'prepare_for_inference', 'count_neuron_calls',
    'export_and_check', 'ExportReport'
]
