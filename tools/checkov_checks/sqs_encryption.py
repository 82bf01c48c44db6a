"""checkov's CloudFormation check for SQS encryption (CKV_AWS_27) knows only `KmsMasterKeyId`; SSE-SQS
(`SqsManagedSseEnabled`) encrypts at rest as well, without KMS requests to pay for. This check takes its
place (`.checkov.yaml` skips CKV_AWS_27): a queue passes with either, and fails with neither."""
from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class SQSQueueEncryptedAtRest(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure every SQS queue is encrypted at rest (SSE-SQS or SSE-KMS)",
            id="CKV_SHELF_1",
            categories=(CheckCategories.ENCRYPTION,),
            supported_resources=("AWS::SQS::Queue",),
        )

    def scan_resource_conf(self, conf):
        properties = conf.get("Properties") or {}
        if properties.get("KmsMasterKeyId"):
            return CheckResult.PASSED
        if properties.get("SqsManagedSseEnabled") in (True, "true", "True"):
            return CheckResult.PASSED
        return CheckResult.FAILED


check = SQSQueueEncryptedAtRest()
