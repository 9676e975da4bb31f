"""Numpy kernels shared by every decoder. Nothing here may import torch."""
