"""Demo content: a few published courses to click through on a fresh install.

``seed`` goes through ``authoring.create`` like any author would (same validation, audit entries
by ``system``) and skips a course whose slug exists, so running it twice, or on a database
where someone already edited a demo course, changes nothing. The three kinds cover the flows
worth trying: a free course (enrolls at once), a paid one (checkout) and a paid one that
also needs an approved project before its certificate.
"""
from .. import audit
from ..errors import Conflict
from . import authoring


def _lesson(lesson_id, title, minutes, content, preview=False):
    return {"id": lesson_id, "title": title, "durationMin": minutes, "preview": preview,
            "content": content.strip(), "videoUrl": None}


PYTHON = {
    "title": "Python Foundations", "slug": "python-foundations", "price": 0, "currency": "INR",
    "tags": ["python", "programming", "beginner"], "status": "published",
    "level": "beginner", "category": "programming", "language": "en",
    "outcomes": ["Write and run small Python programs", "Use conditions, loops and functions"],
    "description": "Start programming with Python: values, decisions, loops and functions, one "
                   "small working program at a time. No experience needed.",
    "modules": [
        {"id": "basics", "title": "First steps", "lessons": [
            _lesson("welcome", "Welcome and setup", 8, preview=True, content="""
Python is a general-purpose language that reads almost like English, which is why it is taught
first at so many universities and used daily by data analysts, web developers and scientists.

In this course you will install Python 3, run it from a terminal, and write every example
yourself. Typing the code, rather than copying it, is what makes it stick.

Install Python from python.org (tick "Add Python to PATH" on Windows), then open a terminal and
type `python3 --version`. If you see a version number of 3.10 or later, you are ready."""),
            _lesson("values", "Values, names and types", 14, content="""
Every piece of data in Python is a value with a type: `42` is an int, `3.5` a float,
`"Asha"` a str and `True` a bool. A name (a variable) is a label you attach to a value:
`price = 499`.

Types decide what you can do: `"4" + "2"` joins two strings into `"42"`, while `4 + 2` adds
numbers. `type(value)` tells you what you are holding when in doubt.""")]},
        {"id": "flow", "title": "Decisions and repetition", "lessons": [
            _lesson("if", "Making decisions with if", 12, content="""
`if`, `elif` and `else` run a block only when a condition is true. Indentation is part of the
syntax: four spaces mark the lines that belong to a block.

Write a program that asks for a marks total with `input()` and prints the grade. Remember that
`input()` returns text: convert it with `int()` before comparing."""),
            _lesson("loops", "Loops: for and while", 16, content="""
A `for` loop walks over a sequence: `for name in ["Ravi", "Meena"]: print(name)`. A `while`
loop repeats as long as its condition holds, so make sure something inside it changes.

Exercise: print the multiplication table of a number the user enters, then extend it to stop
early when the user types `q`."""),
            _lesson("functions", "Writing functions", 18, content="""
A function names a piece of work so you can reuse it: `def area(width, height): return width *
height`. Good functions do one thing and have a name that says what.

Rewrite your grade program so that the grading rule lives in `def grade(marks)`, and call it
for three different totals.""")]},
    ],
}

WEB = {
    "title": "Full-Stack Web Development with React and Node.js", "slug": "full-stack-react-node",
    "price": 49900, "currency": "INR", "tags": ["javascript", "react", "node", "web"],
    "status": "published", "level": "intermediate", "category": "web-development", "language": "en",
    "outcomes": ["Build a React front end", "Serve a REST API with Node.js and Express"],
    "description": "Build and deploy a complete web application: a React front end, a REST API "
                   "on Node.js and Express, and a database behind it.",
    "modules": [
        {"id": "frontend", "title": "React front end", "lessons": [
            _lesson("overview", "How a modern web app fits together", 10, preview=True, content="""
A browser loads a single-page application once; after that, the page talks to an API with
JSON and redraws only what changed. This course builds both halves of such an app: a task
board your team could actually use.

You need Node.js 20 or later and a code editor. Every module ends with a working app, and the
final one is deployed to the internet."""),
            _lesson("components", "Components and props", 22, content="""
React apps are trees of components: functions that take props and return what to show.
Keep components small and give each one a single job: `TaskList` lists, `TaskCard` shows one.

Build the board's static layout first with hard-coded data; wiring it to the API comes next."""),
            _lesson("state", "State and effects", 25, content="""
State is the data a component remembers between renders (`useState`); an effect synchronises
the component with something outside React, such as fetching tasks (`useEffect`).

Fetch the task list from `/api/tasks`, show a loading state, and handle the error case: the
network fails more often than you think.""")]},
        {"id": "backend", "title": "Node.js API", "lessons": [
            _lesson("express", "A REST API with Express", 24, preview=True, content="""
Express maps HTTP methods and paths to handler functions. A clean API uses nouns for paths
(`/api/tasks`), methods for verbs (GET lists, POST creates) and status codes that mean what
they say: 201 for created, 404 for missing, 400 for invalid input.

Create the tasks API with validation of every field the client sends."""),
            _lesson("auth", "Authentication with cookies", 28, content="""
Passwords are hashed with bcrypt, never stored. After sign-in, the server sets an HttpOnly
cookie the page's scripts cannot read, which protects the session from cross-site scripting.

Add sign-up, sign-in and sign-out, and make the tasks API answer 401 to strangers.""")]},
    ],
}

DATA = {
    "title": "Data Analysis with pandas", "slug": "data-analysis-pandas", "price": 79900,
    "currency": "INR", "tags": ["python", "data", "pandas"], "status": "published",
    "requiresProject": True, "level": "intermediate", "category": "data", "language": "en",
    "outcomes": ["Clean and explore a data set with pandas", "Explain a finding with charts"],
    "description": "Clean, explore and explain real data sets with pandas and matplotlib, and "
                   "finish with an analysis project reviewed by a mentor.",
    "modules": [
        {"id": "frames", "title": "DataFrames", "lessons": [
            _lesson("why-pandas", "Why pandas", 9, preview=True, content="""
Spreadsheets stop scaling at a few hundred thousand rows and make every step hard to repeat.
pandas gives you the same tables as code: each cleaning step is written down, so the whole
analysis can be rerun on next month's data in seconds.

We will work with public data: Indian monsoon rainfall by district, and a year of a small
online shop's orders."""),
            _lesson("loading", "Loading and inspecting data", 18, content="""
`pd.read_csv` loads a file into a DataFrame. Before any analysis, look: `df.head()`,
`df.info()` and `df.describe()` show the columns, their types and obvious problems such as
numbers read as text or missing values.""")]},
        {"id": "analysis", "title": "Cleaning and analysis", "lessons": [
            _lesson("cleaning", "Cleaning messy data", 26, content="""
Real data has gaps, duplicates and inconsistent spellings. Decide per column: drop missing
rows, fill them (`fillna`) or keep them and say so. Normalise text before grouping, or
"Mumbai" and "mumbai " become two cities."""),
            _lesson("groupby", "Grouping and aggregating", 24, content="""
`df.groupby("district")["rainfall_mm"].mean()` answers "which districts get the most rain" in
one line. Combine several aggregations with `agg`, and sort the result before you read it."""),
            _lesson("project", "Your project: an analysis report", 30, content="""
Choose a public data set, ask one clear question, and answer it in a notebook: loading,
cleaning (with your reasons), analysis and two charts. Submit the link to your repository;
a mentor reviews it, and your certificate is issued once it is approved.""")]},
    ],
}

COURSES = (PYTHON, WEB, DATA)


def seed(db, actor=audit.SYSTEM):
    """Create the demo courses that are missing; return the slugs it created."""
    created = []
    for fields in COURSES:
        if db.courses.find_one({"slug": fields["slug"]}, {"_id": 1}):
            continue
        try:
            created.append(authoring.create(db, fields, actor)["slug"])
        except Conflict:  # another process seeded it a moment ago
            continue
    return created
