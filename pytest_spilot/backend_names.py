"""The built-in backend names; flow backends reuse them, as one --spilot-backend picks both.

A module of its own: everything that names a backend imports it, and importing the Innovus
backends package would load the session machinery (which starts lazily, issue 12).
"""

PSEUDO = "pseudo"  # the Python stand-in: no tool, no licence
TCL = "tcl"  # the Tcl stand-in under tclsh: the real bootstrap and skills
REAL = "real"  # the licensed tool

SESSION_BACKENDS = (PSEUDO, TCL, REAL)  # the built-in Innovus session backends
FLOW_BACKENDS = (PSEUDO, REAL)  # the built-in LibreLane flow backends
