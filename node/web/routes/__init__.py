"""The API's routes, by resource; the table of them is node/web/api.py."""
