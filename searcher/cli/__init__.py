"""The command line: a table of subcommands over the library, and their options."""
