"""Certificates: records (``records``), how they are shown (``shapes``), the render job
(``issuing``, ``pdf``), signed Open Badges credentials (``badges``) and sharing (``sharing``)."""
