"""Gossip between nodes: the engine, the peer table, the HTTP client, and the runner inside `serve`."""
