"""A realistic synthetic CRM for trying crmkit out, for documentation and for benchmarks.

>>> from crmkit import demo
>>> summary = demo.build("demo.db", customers=5000, seed=7)    # doctest: +SKIP

``build`` writes customers with contacts, companies, regions, sizes, source channels, owners and
tags; about three years of purchases with a Pareto skew, refunds, calls, emails, visits,
meetings, complaints, feedback, surveys and referrals; a few duplicate customers; and a set of
useful segments. The same seed gives the same data, byte for byte. See docs/demo.md.
"""

from .build import add_plugin_data, build, define_segments, load_core_data
from .timeline import DEMO_TODAY

__all__ = ["DEMO_TODAY", "add_plugin_data", "build", "define_segments", "load_core_data"]
