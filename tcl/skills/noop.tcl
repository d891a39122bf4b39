# Skill noop: does nothing (the migration gates' no-op request). No reports, no metrics.
