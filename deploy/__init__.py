"""Serving the app past one process: replicas behind nginx on one machine, and a cluster."""
