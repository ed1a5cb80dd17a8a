"""Servo bus protocols: codecs, a small backend base class and a lazy registry."""
