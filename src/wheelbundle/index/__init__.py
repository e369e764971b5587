"""Inside the gap: bundle index and bundle publish."""
