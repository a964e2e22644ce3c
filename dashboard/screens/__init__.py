"""The dashboard's pages. ``app.py`` runs each file as a script (``__name__ == "__main__"``) through
``st.navigation``; each holds a ``render()`` that calls query functions and draws widgets, and starts with
``widgets.context()``, which checks the login again. Not named ``pages/``: see ``app.py``."""
