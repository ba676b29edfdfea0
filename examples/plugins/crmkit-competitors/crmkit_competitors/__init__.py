"""crmkit-competitors: competitor tracking for crmkit, an example third-party plugin."""

__version__ = "0.1.0"
