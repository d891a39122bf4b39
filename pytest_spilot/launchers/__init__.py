"""Launchers: one small class per place a job can run, behind the Launcher protocol."""
