"""PyTorch side of Microsoft.ML.DirNet: fine-tune a compressed ONNX model with its structure fixed.

    import dirnet_torch
    model = dirnet_torch.load("compressed.onnx")          # factors (and dense layers) become parameters
    optimizer = torch.optim.Adam(model.parameters(), 1e-4)
    ...                                                    # the original loss, on the original data
    model.save("fine_tuned.onnx")                          # same layout: `dirnet run`/`bench`/`eval` read it

See python/README.md.
"""
from .distillation import distill
from .huge_pages import restart_with_huge_pages
from .onnx_module import OnnxModule, compression_metadata, load
from .schedule import cosine_learning_rate

__all__ = ["OnnxModule", "compression_metadata", "cosine_learning_rate", "distill", "load", "restart_with_huge_pages"]
