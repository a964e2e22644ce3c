"""Docker Hub: the organization audit log (``audit.py``), read by ``regaudit poll dockerhub`` (``audit_api.py``)."""
