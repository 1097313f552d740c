"""Engines that run the linkage SQL: DuckDB (embedded default)."""
