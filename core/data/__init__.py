"""Chat datasets in the ultrachat_200k schema: validate, index, prepare, fetch.

Submodules are imported where used (``finetui.core.data.validate`` etc.) so
that importing this package stays cheap.
"""
