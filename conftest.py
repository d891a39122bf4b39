"""The repository's own pytest configuration (the plugin itself loads through its entry point)."""
