"""Operations: backups of the database and their restore (``flask backup``, ``flask restore``)."""
