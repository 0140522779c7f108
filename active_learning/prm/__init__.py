"""The process reward model: plain PyTorch/transformers code, no Django (see DESIGN.md)."""
