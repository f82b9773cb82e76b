"""CollectFlow HTTP API (FastAPI): see api.app.create_app."""
