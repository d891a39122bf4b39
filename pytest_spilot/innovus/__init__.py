"""The Innovus session kernel: run directory, request/ack protocol, supervisors, skills."""
