"""v1's tabular-partition sample shape: a one-argument run() on a partitioned input (tests/jobs)."""


def run(mini_batch):
    mini_batch["total"] = mini_batch["Quantity"].sum()
    return mini_batch
