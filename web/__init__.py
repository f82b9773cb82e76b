"""Server-rendered screens for people (DESIGN §8): login, the console, offline API docs.

``web.mount.install(app)`` adds them to the API's FastAPI app; every action a screen takes goes
through the same service layer as the JSON API, with the logged-in person as actor.
"""
