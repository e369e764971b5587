"""What the user gave: requirements files, pinned hashes, bundle.yaml, the options."""
