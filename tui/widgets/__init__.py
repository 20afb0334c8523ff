"""Reusable widgets: Line-API log and JSONL views, chat console, plots, spec form."""
