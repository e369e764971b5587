"""What the user gave: requirements files, pinned hashes, bundle.yaml, the options (and their one
table), a site's policy."""
