"""The serial bridge's I/O: the worker thread that owns the port and the servo bus."""
