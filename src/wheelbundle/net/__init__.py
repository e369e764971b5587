"""The network underneath: the fetcher, credentials, and index pages."""
