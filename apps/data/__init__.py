"""Package data: scenario files (``demo.json``)."""
