"""The ``elasticvit`` command line: one subcommand per pipeline stage."""
