"""The HTTP side: the aiohttp app, the API and its routes, the federation endpoints, pages, metrics, limits."""
