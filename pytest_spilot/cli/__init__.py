"""The command line: ``spilot`` and its verbs."""
