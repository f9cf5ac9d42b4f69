"""v1's ``azureml_user`` package, as batch workers see it (see :mod:`.parallel_run`)."""
