"""Scheduled tasks: a Lambda function per task, run by an EventBridge schedule rule.

Each task gets its own role (its log group, its dead-letter queue, the buckets it names,
and the two AWS-required `*` statements below), an explicit KMS-encrypted log group, a
KMS-encrypted dead-letter queue for runs that failed every retry, and a place in the
private subnets behind a security group that allows HTTPS out and nothing in.
"""

from __future__ import annotations

from troposphere import GetAtt, Join, Ref, Sub, awslambda, ec2, events, iam, logs, sqs

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import (
    BucketRef,
    KeyHandle,
    NetworkHandle,
    ScheduledTaskRef,
    ScheduledTasksHandle,
    StorageHandle,
)
from compiler.builders.lambda_permissions import vpc_function_statements
from compiler.builders.trust import service_trust_policy
from compiler.context import RegionContext
from compiler.spec import InfraSpec
from compiler.spec.scheduled_tasks import BUCKETS_VARIABLE, ScheduledTaskSpec

SECURITY_GROUP_ID = "ScheduledTasksSecurityGroup"
HTTPS = 443
# SQS keeps a message at most 14 days: the time to look into a failed run.
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600


def function_name(spec: InfraSpec, task: ScheduledTaskSpec) -> str:
    # At most 20 + 20 + 20 characters and two hyphens: inside Lambda's 64.
    return naming.resource_name(spec, task.name)


def task_policy(
    log_group: logs.LogGroup, queue: sqs.Queue, buckets: list[BucketRef], key: KeyHandle
) -> dict:
    statements: list[dict] = [
        {
            "Sid": "WriteOwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": GetAtt(log_group, "Arn"),
        },
        {
            "Sid": "SendFailedRunsToOwnDeadLetterQueue",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": GetAtt(queue, "Arn"),
        },
        {
            # The queue is encrypted with the region key; SQS uses it on the sender's behalf.
            "Sid": "EncryptDeadLettersThroughSqs",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": key.key_arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": Sub("sqs.${AWS::Region}.amazonaws.com")}
            },
        },
    ]
    if buckets:
        statements += [
            {
                "Sid": "ListNamedBuckets",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": [b.arn for b in buckets],
            },
            {
                "Sid": "ReadNamedBuckets",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [Sub("${Arn}/*", Arn=b.arn) for b in buckets],
            },
            {
                # Objects are SSE-KMS encrypted; decryption only when S3 asks on our behalf.
                "Sid": "DecryptObjectsThroughS3",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": key.key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": Sub("s3.${AWS::Region}.amazonaws.com")}
                },
            },
        ]
    statements += vpc_function_statements()
    return {"Version": "2012-10-17", "Statement": statements}


def task_security_group(network: NetworkHandle) -> ec2.SecurityGroup:
    return purpose(
        ec2.SecurityGroup(
            SECURITY_GROUP_ID,
            GroupDescription="Scheduled tasks: HTTPS out to AWS APIs, nothing in",
            VpcId=network.vpc_id,
            SecurityGroupEgress=[
                # S3, CloudWatch Logs and other AWS APIs have no fixed addresses; the tasks
                # reach them over HTTPS through the NAT gateways (or VPC endpoints).
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=HTTPS,
                    ToPort=HTTPS,
                    CidrIp="0.0.0.0/0",
                    Description="HTTPS to AWS APIs",
                )
            ],
        ),
        "Network interfaces of the scheduled task functions",
    )


def build_task(
    spec: InfraSpec,
    task: ScheduledTaskSpec,
    network: NetworkHandle,
    storage: StorageHandle,
    key: KeyHandle,
    security_group: ec2.SecurityGroup,
) -> tuple[list, ScheduledTaskRef]:
    name = function_name(spec, task)
    buckets = [b for b in storage.buckets if b.short_name in task.buckets]
    log_group = purpose(
        logs.LogGroup(
            naming.logical_id(task.name, "task", "log", "group"),
            # Lambda writes to /aws/lambda/<function name>; creating it here sets retention
            # and encryption, and the role needs no logs:CreateLogGroup.
            LogGroupName=f"/aws/lambda/{name}",
            RetentionInDays=task.log_retention_days,
            KmsKeyId=key.key_arn,
        ),
        f"Logs of scheduled task '{task.name}', encrypted with the data key",
    )
    # Operational logs go with their function; retained, the fixed name would block the
    # stack's re-creation. Evidence (flow, WAF, trail logs) is retained instead.
    log_group.DeletionPolicy = "Delete"
    log_group.UpdateReplacePolicy = "Delete"
    queue = purpose(
        sqs.Queue(
            naming.logical_id(task.name, "task", "dead", "letter", "queue"),
            # Named, not generated from the stack name: a StackSet instance's stack name
            # would push the project out of an 80-character generated name.
            QueueName=naming.resource_name(spec, task.name, "dead-letter"),
            KmsMasterKeyId=key.key_arn,
            MessageRetentionPeriod=DEAD_LETTER_RETENTION_SECONDS,
        ),
        f"Events of runs of '{task.name}' that failed every retry",
    )
    role = purpose(
        iam.Role(
            naming.logical_id(task.name, "task", "role"),
            AssumeRolePolicyDocument=service_trust_policy("lambda.amazonaws.com"),
            Policies=[
                iam.Policy(
                    PolicyName="scheduled-task",
                    PolicyDocument=task_policy(log_group, queue, buckets, key),
                )
            ],
        ),
        f"Identity of task '{task.name}': its logs, its dead-letter queue, its buckets only",
    )
    variables = dict(task.environment)
    if buckets:
        variables[BUCKETS_VARIABLE] = Join(",", [b.name for b in buckets])
    optional = {"Environment": awslambda.Environment(Variables=variables)} if variables else {}
    function = purpose(
        awslambda.Function(
            naming.logical_id(task.name, "task", "function"),
            FunctionName=name,
            Description=task.description or f"Scheduled task '{task.name}': {task.schedule}",
            Runtime=task.runtime,
            Handler=task.handler,
            Code=awslambda.Code(ZipFile=task.code),
            Role=GetAtt(role, "Arn"),
            Timeout=task.timeout_seconds,
            MemorySize=task.memory_mb,
            ReservedConcurrentExecutions=task.reserved_concurrency,
            KmsKeyArn=key.key_arn,  # environment variables are encrypted with the data key
            TracingConfig=awslambda.TracingConfig(Mode="Active"),
            DeadLetterConfig=awslambda.DeadLetterConfig(TargetArn=GetAtt(queue, "Arn")),
            VpcConfig=awslambda.VPCConfig(
                SubnetIds=network.private_subnet_ids,
                SecurityGroupIds=[GetAtt(security_group, "GroupId")],
            ),
            LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref(log_group)),
            **optional,
        ),
        f"Scheduled task '{task.name}', code inlined from {task.source}",
    )
    rule = purpose(
        events.Rule(
            naming.logical_id(task.name, "task", "schedule"),
            # At most 62 characters, inside EventBridge's 64; generated names would start
            # with the stack name, which is cut to fit and so cannot be scoped by.
            Name=function_name(spec, task),
            Description=f"Runs task '{task.name}' on {task.schedule} (UTC)",
            ScheduleExpression=task.schedule,
            State="ENABLED",
            Targets=[events.Target(Id="task", Arn=GetAtt(function, "Arn"))],
        ),
        f"Schedule of task '{task.name}'",
    )
    permission = purpose(
        awslambda.Permission(
            naming.logical_id(task.name, "task", "invoke", "permission"),
            Action="lambda:InvokeFunction",
            FunctionName=GetAtt(function, "Arn"),
            Principal="events.amazonaws.com",
            SourceArn=GetAtt(rule, "Arn"),  # only this rule may invoke the task
        ),
        f"Lets the schedule rule, and nothing else, invoke task '{task.name}'",
    )
    ref = ScheduledTaskRef(
        name=task.name,
        function_name=name,
        function_arn=GetAtt(function, "Arn"),
        dead_letter_queue_name=GetAtt(queue, "QueueName"),
    )
    return [log_group, queue, role, function, rule, permission], ref


def build_scheduled_tasks(
    spec: InfraSpec,
    ctx: RegionContext,
    network: NetworkHandle,
    storage: StorageHandle,
    key: KeyHandle,
) -> Built[ScheduledTasksHandle]:
    if not spec.scheduled_tasks:
        return Built([], ScheduledTasksHandle([]))
    security_group = task_security_group(network)
    resources: list = [security_group]
    refs: list[ScheduledTaskRef] = []
    for task in spec.scheduled_tasks:
        task_resources, ref = build_task(spec, task, network, storage, key, security_group)
        resources += task_resources
        refs.append(ref)
    return Built(resources, ScheduledTasksHandle(refs))
