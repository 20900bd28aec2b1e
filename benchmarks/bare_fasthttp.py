"""The baseline for ``load_bench.py``: plain FastHttpUser code sending the Flow API scenario's requests.

Same paths, weights and bodies as ``FlowApiUser`` in ``loadtests/flow.py``, but none of flowlb's
plumbing (no options, no certificate set-up, no request names): the difference between the two
is what the scenario costs on top of Locust.
"""

import random

from locust import FastHttpUser, task

PROJECTS = [f"flowlb-project-{n}" for n in range(20)]
JOB = '{"projectName": "flowlb", "procedureName": "load", "actualParameter": [{"name": "payload", "value": "' + (
    "x" * 151) + '"}]}'
XML = ('<?xml version="1.0"?><requests version="2.2" timeout="180"><request requestId="1"><getProperty>'
       "<propertyName>/myJob/flowlb" + "x" * 86 + "</propertyName></getProperty></request></requests>")


class BareUser(FastHttpUser):
    @task(3)
    def health(self) -> None:
        self.client.get("/commanderRequest/health")

    @task(5)
    def get_project(self) -> None:
        self.client.get(f"/rest/v1.0/projects/{random.choice(PROJECTS)}")

    @task(1)
    def list_projects(self) -> None:
        self.client.get("/rest/v1.0/projects")

    @task(1)
    def server_info(self) -> None:
        self.client.get("/rest/v1.0/server/info")

    @task(3)
    def list_jobs(self) -> None:
        self.client.get("/rest/v1.0/jobs?maxResults=10&sortKey=finish")

    @task(2)
    def run_procedure(self) -> None:
        self.client.post("/rest/v1.0/jobs?request=runProcedure", data=JOB, headers={"Content-Type": "application/json"})

    @task(1)
    def commander_request(self) -> None:
        self.client.post("/commanderRequest", data=XML, headers={"Content-Type": "text/xml"})
