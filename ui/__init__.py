"""Streamlit dashboard over stored search results (reads the study storage only)."""
