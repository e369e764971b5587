"""The only writers of archives: make, delta, merge."""
