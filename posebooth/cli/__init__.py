"""The command line: `posebooth scene|render|models|info|gui` (cli.main)."""
