"""Shipped detections: one module per detection, one package per family (``<family>/<name>.py``)."""
