"""The worker: leased job queues in MongoDB (``queue``), the process that runs them and the
periodic tasks (``runner``, ``schedule``), and the numbers an operator watches (``monitoring``)."""
