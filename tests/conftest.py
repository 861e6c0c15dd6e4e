"""Shared pytest set-up: tests run on CPU with a fixed thread count."""
import torch

torch.set_num_threads(2)
