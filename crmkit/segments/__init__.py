"""The segment language: one targeting language for rules, reports and plugins."""

from .ast import Literal
from .builder import Condition, F, FieldRef
from .compiler import FROM_CUSTOMERS, CompiledRule
from .parser import parse, tokenize
from .service import RuleView, Segments, SegmentView, Snapshot, SnapshotDiff

__all__ = [
    "CompiledRule", "Condition", "F", "FieldRef", "FROM_CUSTOMERS", "Literal", "RuleView",
    "SegmentView", "Segments", "Snapshot", "SnapshotDiff", "parse", "tokenize",
]
