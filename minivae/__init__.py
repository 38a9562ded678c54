"""minivae: readable from-scratch NumPy variational autoencoders, with Numba-accelerated loops."""

from minivae.fast.backend import get_backend, set_backend, use_backend

__version__ = "0.1.0"

__all__ = ["__version__", "get_backend", "set_backend", "use_backend"]
