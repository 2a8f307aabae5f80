"""Live monitoring dashboard (Streamlit) over the job's MySQL tables."""
