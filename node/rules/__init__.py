"""The rules that the API, the CLI and CSV import all obey: members, logins, passwords."""
