"""Accounts: users and their passwords, sessions, access tokens, password resets, and each
user's notifications."""
