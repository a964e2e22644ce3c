"""Anomalous pulls: volume, breadth and egress against each identity's own baseline, new networks and clients,
anonymous pulls of private repositories, tag and catalog enumeration."""
