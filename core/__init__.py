"""finetui's service layer: typed records in and out, no UI, no printing.

Importing this package must stay cheap: heavy libraries (torch, transformers,
datasets, azure.ai.ml) are imported inside the functions that need them.
"""

__version__ = "0.1.0"
