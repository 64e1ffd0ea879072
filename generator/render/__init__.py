"""Backends: the derived math printed as JSON, Markdown, LaTeX, NumPy and PyTorch source."""
