"""Helpers of the browser end-to-end test (tests/test_e2e.py)."""
