"""The Rungs service: sweep spec parsing, storage, Ray Tune execution, API and CLI."""
