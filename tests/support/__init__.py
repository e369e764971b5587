"""Helpers the tests share: local indexes, real packages, bundles, runtimes, servers."""
