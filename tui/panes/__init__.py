"""The app's five panes: models, compute, data, jobs, endpoints."""
