"""The writer role: results topic -> PostgreSQL (`loop`, `lanes`, `store`, `flips`)."""

from checker.writer.lanes import Batch, Lane
from checker.writer.loop import ResultWriter, WriterTotals
from checker.writer.store import COPY_TYPES, write_results

__all__ = ["COPY_TYPES", "Batch", "Lane", "ResultWriter", "WriterTotals", "write_results"]
