"""Flow runners: one small class per validation ``kind``, behind the ValidationRunner protocol."""
