"""Reliability and security tests: bad input, injection, concurrency, crashes, faulty plugins,
erasure of personal data."""
