"""The only place that talks to the Kubernetes API server.

Everything here takes and returns plain dicts, so that translators and views never see
client types.
"""
