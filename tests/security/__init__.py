"""Security and reliability tests: confinement, safe model loading, replace rules, staged outputs, hostile manifests."""
