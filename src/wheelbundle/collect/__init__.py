"""Every file into the wheelhouse: downloads, builds, repairs, the Python runtime."""
