"""The one place pip runs, its configuration, and the launcher that makes it resolve for another server."""
