"""Builder tests. A package, so module names like `test_network` cannot clash with the
spec tests that mirror the same concerns under tests/spec/."""
