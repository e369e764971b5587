"""The network underneath, after pip (whose settings it follows): the run's session, the fetcher,
what an answer may cost, credentials, and index pages."""
