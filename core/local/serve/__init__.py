"""The local endpoint server: a detached process serving one model over HTTP.

``__main__`` is the process entry, ``app`` the routes (/score, OpenAI chat
completions, probes, metrics), ``engine`` the model and its batched
generation, ``auth`` the keys, ``schemas`` request checking, ``prom`` metrics,
``limits`` admission, read deadlines and body caps.
Nothing here is imported by the CLI or the app at start.
"""
