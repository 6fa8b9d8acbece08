"""NumPy reference executor of every model family, instrumented to capture an OpTrace."""
