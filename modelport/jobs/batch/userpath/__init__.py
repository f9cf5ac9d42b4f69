"""A folder put on batch workers' ``sys.path``: it makes ``azureml_user`` a top-level module there
(v1 scripts import ``from azureml_user.parallel_run import EntryScript``; that name is not under
``azureml.``, so a script with its imports renamed still imports it)."""
