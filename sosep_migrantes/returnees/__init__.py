"""Returnees (issue #12): earlier records of the same person anywhere in the country, linked or dismissed."""
