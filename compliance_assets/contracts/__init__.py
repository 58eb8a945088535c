"""Data contracts: the register compiled to Great Expectations suites, validated with GX's own API."""
