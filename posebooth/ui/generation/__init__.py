"""The Generation panel and what it needs: the Qt bridge to the generation
worker, preview requests built off the GUI thread, the GUI export, history."""
