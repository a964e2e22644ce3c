"""CNCF Distribution (2.8 and 3.x) notifications: the envelope parser and the events normalizer.

FORMATS.md section 1 has the wire format.
"""
