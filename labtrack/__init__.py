"""labtrack: experiment tracking that lives inside JupyterLab."""
__version__ = "0.1.0"
