"""Export a trained model's weights for other frameworks (minivae itself never imports them).

:mod:`minivae.export.torch_names`: the weights under PyTorch's module names and layouts.
"""

from minivae.export.torch_names import save_torch_state, torch_state_dict

__all__ = ["save_torch_state", "torch_state_dict"]
