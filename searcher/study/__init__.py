"""The stored study: storage URLs, opening, records and their attributes, the front, tables."""
