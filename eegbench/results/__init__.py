"""The run contract: the run record (``results.json``, typed and versioned), the run folder whose
``RunDir`` names every file in it, and the trackers a run's numbers are sent to."""
