"""The LibreLane flow fixture: progress from flow.log, metrics and artifacts of a run."""
