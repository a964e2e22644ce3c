"""What only the proxy log shows: brute force and password spraying, authorization probing, and requests the
registry served without an audit event."""
