"""The bundle's read-only users and what describes it: SBOM, signatures, verify, inspect, diff."""
