"""The worker's recount of stored progress, run here the way its periodic task runs it."""
from lms.learning import progress

WORKER = "test-worker"


def recount(db, worker_id=WORKER):
    """Run every due recount job; returns how many finished."""
    finished = 0
    while done := progress.recount_due(db, worker_id, cert_prefix="CERT"):
        finished += done
    return finished


def stored(db, user_id, course_id):
    """The numbers stored on an enrollment: (progress, completed lessons, total lessons)."""
    enrollment = db.enrollments.find_one({"userId": user_id, "courseId": course_id})
    return enrollment["progress"], enrollment["completedLessons"], enrollment["totalLessons"]
