"""The local stack itself: the app over real HTTP, and the moto server it runs on."""
from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile

import pytest
import requests
from botocore.config import Config

PROBE_TABLE = "e2e-probe"


@pytest.fixture(scope="module")
def aws(stack):
    def client(service: str):
        return stack.aws(
            service,
            endpoint_url=stack.moto_url,
            region_name="us-east-1",
            config=Config(max_pool_connections=64, retries={"max_attempts": 1}),
        )

    return client


@pytest.fixture(scope="module")
def probe_table(aws) -> str:
    aws("dynamodb").create_table(
        TableName=PROBE_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return PROBE_TABLE


def _in_thread(target) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = target()
        except Exception as exc:  # noqa: BLE001 (handed to the test)
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_health_over_http(base_url, http):
    response = http.get(f"{base_url}/health", timeout=5)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_bursts_of_new_connections_are_all_served(base_url):
    # With socketserver's default listen backlog (5), some of these got "connection reset by peer".
    clients, rounds = 64, 3
    statuses: list[int | str] = []

    def create_cart(start: threading.Barrier):
        start.wait()
        try:
            statuses.append(requests.post(f"{base_url}/carts", json={}, timeout=30).status_code)
        except requests.RequestException as exc:
            statuses.append(repr(exc))

    for _ in range(rounds):
        start = threading.Barrier(clients)
        threads = [threading.Thread(target=create_cart, args=(start,)) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert statuses == [201] * clients * rounds


def test_concurrent_increments_of_one_item_are_all_kept(aws, probe_table):
    dynamodb = aws("dynamodb")
    key = {"pk": {"S": f"counter-{uuid.uuid4()}"}}
    writers = 50
    start = threading.Barrier(writers)

    def increment():
        start.wait()
        dynamodb.update_item(
            TableName=probe_table, Key=key,
            UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}},
        )

    threads = [threading.Thread(target=increment) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    item = dynamodb.get_item(TableName=probe_table, Key=key, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": str(writers)}


def test_every_aws_call_waits_for_the_moto_lock(stack, aws, probe_table):
    dynamodb = aws("dynamodb")
    with stack.moto_lock:
        thread, outcome = _in_thread(lambda: dynamodb.describe_table(TableName=probe_table))
        thread.join(timeout=0.5)
        assert thread.is_alive(), "a DynamoDB call completed while another request held the lock"
    thread.join(timeout=10)

    assert outcome["value"]["Table"]["TableName"] == probe_table


def test_lambda_invoke_does_not_wait_for_the_moto_lock(stack, aws):
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    name = f"probe-{uuid.uuid4().hex[:8]}"
    aws("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Handler="handler.handler",
        Role=stack.stack.outputs["LambdaRoleArn"], Code={"ZipFile": code.getvalue()},
    )
    lambda_client = aws("lambda")

    with stack.moto_lock:
        thread, outcome = _in_thread(lambda: lambda_client.invoke(FunctionName=name, Payload=b"{}"))
        thread.join(timeout=10)
        assert not thread.is_alive(), "Invoke waited for the moto lock"

    assert outcome["value"]["StatusCode"] == 200


def test_sqs_long_poll_neither_holds_the_lock_nor_misses_a_message(aws, probe_table):
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName=f"probe-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    began = time.monotonic()
    thread, outcome = _in_thread(
        lambda: sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5, MaxNumberOfMessages=1)
    )
    time.sleep(0.3)

    aws("dynamodb").describe_table(TableName=probe_table)
    assert time.monotonic() - began < 2, "a long poll kept other calls waiting"
    sqs.send_message(QueueUrl=queue_url, MessageBody="hello")
    thread.join(timeout=10)

    assert [m["Body"] for m in outcome["value"]["Messages"]] == ["hello"]
    assert time.monotonic() - began < 4


def _probe_role(aws, action: str, resource: str) -> str:
    """A role Step Functions may assume, allowed `action` on `resource` only."""
    name = f"probe-{uuid.uuid4().hex[:8]}"
    iam = aws("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="probe", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}))
    return arn


def test_step_functions_tasks_reach_this_moto_server(stack, aws, probe_table):
    from moto.settings import moto_server_port

    assert moto_server_port() == stack.moto_url.rsplit(":", 1)[1]
    item_id = f"sfn-{uuid.uuid4()}"
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": probe_table, "Item": {"pk": {"S": item_id}}},
                "End": True,
            }
        },
    }
    sfn = aws("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"probe-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
        roleArn=_probe_role(aws, "dynamodb:PutItem", f"arn:aws:dynamodb:us-east-1:123456789012:table/{probe_table}"),
    )
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])

    deadline = time.monotonic() + 20
    status = "RUNNING"
    while status == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
        status = sfn.describe_execution(executionArn=execution["executionArn"])["status"]

    assert status == "SUCCEEDED"
    assert "Item" in aws("dynamodb").get_item(TableName=probe_table, Key={"pk": {"S": item_id}})


def test_stack_outputs_are_in_the_environment(stack):
    import os

    assert os.environ["SHELF_PRODUCTS_TABLE"] == "shelf-e2e-products"
    assert os.environ["SHELF_CHECKOUT_QUEUE_URL"].endswith("/shelf-e2e-checkout")
    assert os.environ["AWS_ENDPOINT_URL"] == stack.moto_url
    assert os.environ["SHELF_STAGE"] == "e2e"


def test_any_http_method_reaches_the_app(base_url, http):
    response = http.request("TRACE", f"{base_url}/health", timeout=5)

    assert response.status_code == 405


def test_a_query_protocol_long_poll_becomes_short_polls_under_the_lock():
    from local.moto_server import SerializedApp

    bodies: list[bytes] = []

    def empty_queue(environ, start_response):
        bodies.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [b"<ReceiveMessageResponse><ReceiveMessageResult/></ReceiveMessageResponse>"]

    body = b"Action=ReceiveMessage&QueueUrl=q&WaitTimeSeconds=1"
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "CONTENT_TYPE": "application/x-www-form-urlencoded",
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    began = time.monotonic()

    SerializedApp(empty_queue)(environ, lambda status, headers: None)

    assert time.monotonic() - began >= 1
    assert len(bodies) > 1
    assert all(b == b"Action=ReceiveMessage&QueueUrl=q&WaitTimeSeconds=0" for b in bodies)


def test_storefront_routes_answer_browser_preflights_and_admin_routes_do_not(stack):
    import requests

    preflight = requests.options(f"{stack.url}/carts", headers={
        "Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,idempotency-key"}, timeout=10)
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Idempotency-Key" in preflight.headers["Access-Control-Allow-Headers"]
    created = requests.post(f"{stack.url}/carts", json={}, headers={"Origin": "https://shop.example.com"}, timeout=10)
    assert created.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Request-Id" in created.headers["Access-Control-Expose-Headers"]
    admin = requests.get(f"{stack.url}/admin/orders", headers={"Origin": "https://evil.example.com"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in admin.headers


def _raw(base_url: str, request: bytes) -> bytes:
    import socket
    from urllib.parse import urlsplit

    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("path", ["/admin/orders/nope/cancel", "/"])
def test_an_empty_content_length_is_no_body_and_a_bad_one_a_400_never_a_dropped_connection(base_url, path):
    empty = _raw(base_url, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length:\r\nConnection: close\r\n\r\n".encode())
    assert empty.startswith(b"HTTP/1.") and b" 5" not in empty.split(b"\r\n")[0], empty[:200]
    bad = _raw(base_url, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".encode())
    status, _, rest = bad.partition(b"\r\n")
    assert status.split()[1] == b"400", bad[:300]
    assert b"application/problem+json" in rest and b'"status": 400' in rest
