"""crmkit's benchmark harness: crmkit against the tools a user would pick instead, as ratios
measured in the same run on the same data. Run ``python -m benchmarks --help``; see README.md."""
