"""A compiled executor for read operations, proven equal to the reference by a differential test."""

from app.graphql.plan.executor import CompiledExecutor

__all__ = ["CompiledExecutor"]
