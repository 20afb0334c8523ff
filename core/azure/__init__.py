"""The Azure ML backend: the tutorial's operations through azure-ai-ml's MLClient.

Nothing here imports ``azure.ai.ml`` at module level: the SDK takes about two
seconds to import, so it is loaded inside the first call that needs it.
"""
