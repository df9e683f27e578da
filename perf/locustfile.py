# ruff: noqa: S311  (random picks load-test data, not secrets)
"""Locust load test for Cadence: a realistic mix of employees, managers and admins.

    make loadtest                       # bounded, headless; see docs/loadtest.md
    LOCUST_ORG=bigcorp LOCUST_MEMBERS=20000 locust -f perf/locustfile.py --host http://127.0.0.1:8000

Each simulated user logs in once as a distinct seeded user (perf/seeding.py: password
``demo-pass-1234``), chosen deterministically from a per-class counter. Roles, reports, the
active period and goals are discovered through the API, never the database. Requests use
templated names ("/goals/[id]/self-assessment"); any non-2xx answer (e.g. 404 from a page
endpoint not built yet) is recorded as a failure under that name and the user carries on.
"""

import itertools
import logging
import os
import random
import threading

from locust import HttpUser, between, task

ORG = os.environ.get("LOCUST_ORG", "bigcorp")
MEMBERS = int(os.environ.get("LOCUST_MEMBERS", "20000"))
PASSWORD = os.environ.get("LOCUST_PASSWORD", "demo-pass-1234")
BASE = f"/api/org/{ORG}"

_lock = threading.Lock()
# Employees start high so they never collide with managers (the first member of each
# department, i.e. the lowest numbers); managers walk up from 1 and skip non-managers.
_employee_ids = itertools.count(max(1, MEMBERS // 10))
_manager_ids = itertools.count(1)
_started_users = 0


def _user_started(environment):
    """The measured window starts once every user has logged in: logins hash a password
    (~0.5 s of CPU each) and would otherwise dominate the first minute; the statistics are
    reset when the last user's start-up (login and first reads) is done."""
    global _started_users
    with _lock:
        _started_users += 1
        last = _started_users == environment.runner.target_user_count
    if last:
        environment.runner.stats.reset_all()
        logging.info("loadtest: every user has logged in; the measured window starts")


def _next(counter):
    with _lock:
        n = next(counter)
    return ((n - 1) % (MEMBERS - 1)) + 1  # 1 .. MEMBERS-1 (0 is the admin)


def _email(n):
    return f"admin@{ORG}.example" if n == 0 else f"member{n}@{ORG}.example"


class CadenceUser(HttpUser):
    abstract = True
    wait_time = between(1, 3)

    token = None
    me = None
    last_status = None

    def on_start(self):
        try:
            self.begin()
        finally:
            _user_started(self.environment)

    def begin(self):
        """Log in and read what the tasks need (subclasses)."""

    # --- helpers -------------------------------------------------------------------------
    def _call(self, method, path, name, expected=(), **kwargs):
        """One request; non-2xx is a failure under `name`, except the `expected` statuses.
        Returns parsed JSON or None."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        with self.client.request(
            method, path, name=name, headers=headers, catch_response=True, **kwargs
        ) as resp:
            if 200 <= resp.status_code < 300:
                resp.success()
                try:
                    return resp.json() if resp.content else {}
                except ValueError:
                    resp.failure("response is not JSON")
                    return None
            if resp.status_code in expected:
                resp.success()
            elif resp.status_code == 404:
                resp.failure(f"404 not found (endpoint missing or not visible): {name}")
            else:
                # Error code + message only: the envelope's request_id would make every
                # failure a separate row in the report.
                try:
                    body = resp.json()
                    detail = f"{body.get('error')}: {body.get('message')}"
                except (ValueError, AttributeError):
                    detail = resp.text[:120]
                resp.failure(f"HTTP {resp.status_code} {detail}")
            self.last_status = resp.status_code
            return None

    def login(self, n):
        self.token = None
        data = self._call(
            "POST", "/api/auth/login", "/api/auth/login",
            json={"email": _email(n), "password": PASSWORD},
        )  # fmt: skip
        if not data or "access_token" not in data:
            return False
        self.token = data["access_token"]
        # 404: the seed deactivates some members (`seed`); the next seeded user is tried.
        self.me = self._call("GET", f"{BASE}/me", "/org/[slug]/me", expected=(404,))
        return self.me is not None

    def login_as_role(self, counter, role, tries=60):
        for _ in range(tries):
            if self.login(_next(counter)) and self.me.get("role") == role:
                return True
        return False


def open_goals(page, evaluation):
    """Ids of the page's approved goals whose `evaluation` is missing or still a draft."""
    goals = (page or {}).get("goals", [])
    return [
        g["id"]
        for g in goals
        if g["status"] == "approved" and (g[evaluation] or {}).get("status", "draft") == "draft"
    ]


class EmployeeUser(CadenceUser):
    weight = 70

    def begin(self):
        self.goal_ids = []
        if not self.login_as_role(_employee_ids, "employee"):
            return
        self.goal_ids = self.assessable_goals()

    def assessable_goals(self):
        """What the goal-list page offers for self-assessment: approved goals whose
        assessment is not submitted yet (most seeded ones are)."""
        page = self._call("GET", f"{BASE}/evaluation/goal-list-page", "/evaluation/goal-list-page")
        return open_goals(page, "self_assessment")

    @task(3)
    def goal_list_page(self):
        if self.token:
            self._call("GET", f"{BASE}/evaluation/goal-list-page", "/evaluation/goal-list-page")

    @task(3)
    def goals(self):
        if self.token:
            self._call("GET", f"{BASE}/goals?limit=20", "/goals?limit=20")

    @task(1)
    def self_assessment(self):
        if not (self.token and self.goal_ids):
            return
        goal_id = random.choice(self.goal_ids)
        ok = self._call(
            "PUT", f"{BASE}/goals/{goal_id}/self-assessment", "/goals/[id]/self-assessment",
            json={"rating": random.randint(1, 5), "comment": "Load-test self-assessment.",
                  "status": "draft"},
        )  # fmt: skip
        if ok is None and self.last_status == 409:
            self.goal_ids.remove(goal_id)  # submitted meanwhile: a real user moves on too


class ManagerUser(CadenceUser):
    weight = 20

    def begin(self):
        self.reports, self.report_goals = [], {}
        if not self.login_as_role(_manager_ids, "manager"):
            return
        dept = self.me.get("department_id")
        data = self._call(
            "GET", f"{BASE}/members?department_id={dept}&role=employee&limit=20",
            "/members?department_id=[id]&role=employee",
        )  # fmt: skip
        mine = self.me["id"]
        items = (data or {}).get("items", [])
        self.reports = [m["id"] for m in items if m.get("supervisor_id") == mine]

    def _goals_of(self, member_id):
        """What the report's input page offers for feedback: approved goals whose feedback
        is not published yet."""
        if member_id not in self.report_goals:
            page = self._call(
                "GET", f"{BASE}/evaluation/input-page?member_id={member_id}",
                "/evaluation/input-page?member_id=[id]",
            )  # fmt: skip
            self.report_goals[member_id] = open_goals(page, "feedback")
        return self.report_goals[member_id]

    @task(3)
    def team_page(self):
        if self.token:
            self._call("GET", f"{BASE}/evaluation/team-page", "/evaluation/team-page")

    @task(2)
    def input_page(self):
        if self.token and self.reports:
            member_id = random.choice(self.reports)
            self._call(
                "GET", f"{BASE}/evaluation/input-page?member_id={member_id}",
                "/evaluation/input-page?member_id=[id]",
            )  # fmt: skip

    @task(1)
    def feedback(self):
        if not (self.token and self.reports):
            return
        goals = self._goals_of(random.choice(self.reports))
        if goals:
            goal_id = random.choice(goals)
            ok = self._call(
                "PUT", f"{BASE}/goals/{goal_id}/feedback", "/goals/[id]/feedback",
                json={"rating": random.randint(1, 5), "comment": "Load-test feedback.",
                      "status": "draft"},
            )  # fmt: skip
            if ok is None and self.last_status == 409:
                goals.remove(goal_id)  # published feedback cannot go back to draft


class AdminUser(CadenceUser):
    weight = 10

    def begin(self):
        # The org has one seeded admin; every simulated admin logs in as it.
        self.login(0)

    @task(2)
    def stats(self):
        if self.token:
            self._call("GET", f"{BASE}/dashboards/stats", "/dashboards/stats")

    @task(1)
    def admin_dashboard(self):
        if self.token:
            self._call("GET", f"{BASE}/dashboards/admin", "/dashboards/admin")

    @task(2)
    def members_search(self):
        if self.token:
            self._call("GET", f"{BASE}/members?search=member1&limit=20", "/members?search=[q]")
