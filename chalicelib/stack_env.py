"""The functions' environment, built from the infrastructure stack's outputs.

One source for both places that hand it over: `make deploy` (tools/deploy.py) writes it into the Chalice
stage's `environment_variables`, and the local stack (local/stack.py) sets it in its own process. So every
name, URL and ARN the functions use comes from the stack; nothing is looked up at run time.

    function_environment("prod", outputs, secret_parameters={"STRIPE_SECRET_KEY": "/shelf/prod/stripe-secret-key"})

Secrets are never values here: a secret kept in SSM Parameter Store is handed over as the name of its
parameter (`<SECRET>_PARAMETER`), read by `config.secret` at run time under the Lambda role.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

# Stack outputs handed to the functions besides every `<Name>Table` and `<Name>QueueUrl`.
ARN_OUTPUTS = ("OrderWorkflowArn", "WebhookSecretsKeyArn")
# Outputs that are settings under another name: an outbound webhook's last attempt is the queue's last delivery.
RENAMED_OUTPUTS = {"WebhookMaxAttempts": "SHELF_WEBHOOK_MAX_ATTEMPTS"}

# Secrets the functions read (config.secret), and the SSM parameter each one lives in, under /shelf/<stage>/.
SECRETS = {
    "STRIPE_SECRET_KEY": "stripe-secret-key",
    "STRIPE_WEBHOOK_SECRET": "stripe-webhook-secret",
    "SHELF_WEBHOOK_SECRET": "merchant-webhook-secret",
    "SHELF_TOKEN_SECRET": "token-secret",
}

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def output_env_name(output_key: str) -> str:
    """`ProductsTable` -> `SHELF_PRODUCTS_TABLE`, `CheckoutQueueUrl` -> `SHELF_CHECKOUT_QUEUE_URL`."""
    if output_key in RENAMED_OUTPUTS:
        return RENAMED_OUTPUTS[output_key]
    snake = _CAMEL_BOUNDARY.sub("_", output_key)
    return f"SHELF_{snake.upper()}"


def is_function_output(output_key: str) -> bool:
    """Whether the functions are handed this output (the role's ARN, for one, goes to Chalice instead)."""
    return output_key.endswith(("Table", "QueueUrl")) or output_key in ARN_OUTPUTS or output_key in RENAMED_OUTPUTS


def secret_parameter(stage: str, secret: str) -> str:
    """Where a secret lives in SSM Parameter Store: `/shelf/<stage>/<name>` (the Lambda role may read these)."""
    return f"/shelf/{stage}/{SECRETS[secret]}"


def function_environment(stage: str, outputs: Mapping[str, str], *,
                         secret_parameters: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every function of `stage` gets: SHELF_STAGE, one variable per output the code
    reads (table names, queue URLs, the workflow's and the KMS key's ARNs, the webhook attempts), and
    `<SECRET>_PARAMETER` for each secret kept in SSM (`secret_parameters`: secret -> parameter name)."""
    missing = [key for key in ARN_OUTPUTS if not outputs.get(key)]
    if missing:
        raise ValueError(f"the stack's outputs lack {', '.join(missing)}")
    env = {"SHELF_STAGE": stage}
    for key in sorted(outputs):
        if is_function_output(key):
            env[output_env_name(key)] = str(outputs[key])
    for secret, parameter in sorted((secret_parameters or {}).items()):
        if secret not in SECRETS:
            raise ValueError(f"{secret} is not a secret Shelf reads")
        env[f"{secret}_PARAMETER"] = parameter
    return env
