"""A tabular entry script: returns the mini-batch with a column added (tests/jobs)."""

from azureml_user.parallel_run import EntryScript


def run(mini_batch, mini_batch_context=None):
    EntryScript().logger.info("rows: %d", len(mini_batch))
    out = mini_batch.copy()
    out["n"] = len(mini_batch)
    if mini_batch_context is not None:
        out["key"] = "-".join(str(v) for v in mini_batch_context.partition_key_value.values())
    return out
