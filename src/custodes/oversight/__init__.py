"""Oversight: reports, suspension of a basis, remediation of past batches, query budgets.

See docs/oversight.md. ``reports`` returns data; ``render`` writes it as CSV, JSON or a
standalone HTML page with static SVG charts (``svg``); ``cli`` mounts the commands.
"""
