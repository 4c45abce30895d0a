"""Accounts: users and their passwords (``users``, ``passwords``), sessions and access tokens
(``sessions``, ``tokens``), device cookies for sign-in limits (``devices``), mailed links
(``links``) for resets (``resets``) and addresses (``emails``), account mail decided after the
answer (``errands``), a user's data exported or erased (``privacy``), and each user's
notifications."""
