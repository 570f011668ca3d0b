"""SQL for each resource the API reads or changes, one module per resource; routes stay thin."""
