"""Session backends, one file each: ``pseudo``, ``tcl``, ``real``."""
