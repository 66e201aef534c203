"""The `branchnet` command line, one module per group of commands."""
