"""A file entry script for partitioned inputs: one row per file, with the partition values."""

import os


def run(mini_batch, mini_batch_context):
    key = mini_batch_context.partition_key_value
    return [f"{os.path.basename(p)},{key['user']},{len(mini_batch)}" for p in mini_batch]
