"""Record linkage: block -> compare -> score -> decide, precision first."""

from custodes.link.engines.duckdb import DuckDBLinker, LinkResult
from custodes.link.index import IndexSummary, build_index

__all__ = ["DuckDBLinker", "IndexSummary", "LinkResult", "build_index"]
