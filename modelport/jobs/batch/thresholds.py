"""v1's failure budgets, as one pure function (the supervisor calls it after every failure).

- ``error_threshold`` (-1: no limit): items that failed over the whole input (a tabular
  record or a file; an item ``run()`` returned no row for counts, as do all the items of a
  mini-batch that failed every try) may not go above it.
- ``allowed_failed_count`` (-1 or None: no limit): mini-batches that failed every try.
- ``allowed_failed_percent`` (None or 100: no limit): failed mini-batches as a percentage of all,
  checked once every mini-batch has been scheduled (v1).

A mini-batch that fails and then succeeds on a retry is not failed. Any budget exceeded ends the
run, Failed, with the reason as its first cause.
"""

from __future__ import annotations

from modelport.jobs.batch.spec import BatchSpec

__all__ = ["exceeded"]


def exceeded(
    spec: BatchSpec, *, failed_items: int, failed_batches: int, total_batches: int, all_scheduled: bool
) -> str | None:
    """The first budget the counts go over, said in one sentence; None while within them all."""
    if spec.error_threshold >= 0 and failed_items > spec.error_threshold:
        return f"{failed_items} failed items is more than error_threshold={spec.error_threshold}"
    count = spec.allowed_failed_count
    if count is not None and count >= 0 and failed_batches > count:
        return f"{failed_batches} failed mini-batches is more than allowed_failed_count={count}"
    pct = spec.allowed_failed_percent
    if pct is not None and all_scheduled and total_batches:
        share = 100.0 * failed_batches / total_batches
        if share > pct:
            return (
                f"{failed_batches} of {total_batches} mini-batches failed ({share:.1f}%), more than "
                f"allowed_failed_percent={pct:g}"
            )
    return None
