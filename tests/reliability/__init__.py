"""Reliability tests: crashes, full disks, corruption, concurrency and hostile input."""
