"""The learning flow: courses and the catalog, enrollments, lesson progress, project
submissions and their files, and the demo content."""
