"""The signed-in user's live updates (Server-Sent Events; see ``lms.web.events``)."""
import bottle

from ..accounts import sessions
from ..schema import Query, Str
from ..web import events

EVENTS_QUERY = Query(lastEventId=Str(max=64, required=False,
                                     description="Resume after this event (as the Last-Event-ID header does)"))


def user_events(runtime, db, user, query):
    request, response = bottle.request, bottle.response
    response.content_type = "text/event-stream; charset=utf-8"
    response.set_header("X-Accel-Buffering", "no")  # nginx would hold the events back in its buffer
    response.set_header("Connection", "close")  # a stream has its connection to itself: done, it is done
    last = request.environ.get("HTTP_LAST_EVENT_ID") or query.get("lastEventId")
    session = request.environ["lms.session_id"]
    return events.stream(runtime.events, db, user["id"], last, request.environ["lms.session_expires"],
                         signed_in=lambda: sessions.live(db, session))
