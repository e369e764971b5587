"""What a reviewer runs on a bundle that exists, on either side of the gap: verify, inspect, diff,
audit (with the policy that judges it and the VEX it writes), report. None of it loads a make
stage: reading a bundle needs no resolver, fetcher or builder."""
