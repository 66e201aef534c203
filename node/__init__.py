"""branchnet's node: storage, gossip, HTTP API, web pages and the command line."""
