"""The bundle's and pip's formats as values and checks: pins, the manifest, member names, the
archive, wheels, tar members, licences, OSV advisories, the SBOM, signatures, TOML."""
