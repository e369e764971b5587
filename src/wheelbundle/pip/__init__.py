"""pip, run as a program: its arguments and failures, its settings and configuration, the Pythons
it builds under, and the launcher that makes it resolve for another server."""
