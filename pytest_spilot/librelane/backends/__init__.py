"""Flow backends, one file each: ``pseudo``, ``real``."""
