"""Cost models: the closed-form roofline (time) and action-count energy pricing."""
