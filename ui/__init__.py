"""The dashboard's Streamlit code besides the pages: loaders, charts, formatting, errors."""
