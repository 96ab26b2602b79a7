"""The IAM policy of whoever runs `deploy.sh stackset` for a service-managed StackSet.

A service-managed StackSet is administered from the organization's management account or
a delegated administrator (`stackset.call_as`), where the global stack and its management
role need not exist: this policy, written to `stackset-admin-policy.json` beside the
templates, is what that principal needs and no more. It is an identity policy to attach
(to a role in the administering account), not a template: the administering account is not
known when compiling. Each statement lists exactly the calls deploy.sh makes (see
`STACK_SET_CALLS` and the test that compares them with compiler/deploy_stackset.sh).

What it cannot grant: activating trusted access and registering the delegated administrator
are one-time steps of the management account's administrator (docs/multi-account.md).
Inside member accounts CloudFormation acts through the `stacksets-exec-*` roles trusted
access creates, not through this principal.
"""

from __future__ import annotations

from compiler import naming
from compiler.context import has_writer_region
from compiler.spec import InfraSpec
from compiler.spec.access import BOOTSTRAP_BUCKET

POLICY_PATH = "stackset-admin-policy.json"

# The StackSet calls of deploy_stackset.sh (deploy and preview), as IAM actions.
STACK_SET_CALLS = (
    "cloudformation:CreateStackSet",
    "cloudformation:UpdateStackSet",
    "cloudformation:DescribeStackSet",
    "cloudformation:DescribeStackSetOperation",
    "cloudformation:ListStackSetOperationResults",
    "cloudformation:ListStackInstances",
    "cloudformation:CreateStackInstances",
    "cloudformation:TagResource",  # create-stack-set --tags
    # UpdateStackSet (and a change set's execution) untag what a changed --tags drops.
    "cloudformation:UntagResource",
)
# The Service Authorization Reference lists no resource type for CreateStackSet: it matches
# only "Resource": "*", so it has a statement of its own, narrowed by its condition keys.
CREATE_STACK_SET = "cloudformation:CreateStackSet"
# deploy_org_replication.sh's call: the replication switch, per account, when the writer
# region replicates (buckets or the database's master secret).
REPLICATION_CALLS = ("cloudformation:UpdateStackInstances",)
# `aws cloudformation deploy` of the bootstrap stack (a no-op once it exists), and the
# protection deploy.sh sets on it afterwards.
BOOTSTRAP_STACK_CALLS = (
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:GetTemplateSummary",
    "cloudformation:UpdateTerminationProtection",
    "cloudformation:SetStackPolicy",
    "cloudformation:TagResource",  # deploy --tags
    "cloudformation:UntagResource",  # the change set's execution, when a tag is dropped
)


def stack_set_admin_policy(spec: InfraSpec) -> dict:
    """The identity policy for the principal that runs `deploy.sh stackset`."""
    region = spec.global_stack_region
    stack_set = naming.stack_set_name(spec)
    bootstrap = naming.bootstrap_stack_name(spec)
    bucket = f"{naming.name_prefix(spec)}-{BOOTSTRAP_BUCKET}-*-{region}"
    on_the_stack_set = [a for a in STACK_SET_CALLS if a != CREATE_STACK_SET]
    statements = [
        {
            # No resource type to name (see CREATE_STACK_SET): instead the StackSet must be
            # tagged as this project's and made from a template in this project's prefix
            # of the bootstrap bucket (`aws s3 presign`'s URL, global or regional endpoint).
            "Sid": "CreateThisProjectsStackSetOnly",
            "Effect": "Allow",
            "Action": [CREATE_STACK_SET],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    f"aws:RequestTag/{naming.PROJECT_TAG}": naming.project_tag_value(spec)
                },
                "StringLike": {
                    "cloudformation:TemplateUrl": f"https://{bucket}.s3*.amazonaws.com/{stack_set}/*"
                },
            },
        },
        {
            # Account `*`: a delegated administrator's StackSet lives in the management
            # account, whose ID the compiler does not know. The name still limits it to this
            # project's StackSet; instances touch AWS's public resource types too. A
            # stackset-target ARN carries no fixed region, so the target regions are limited
            # by cloudformation:TargetRegion instead (absent on the calls without regions,
            # where ForAllValues holds).
            "Sid": "ThisProjectsStackSetOnly",
            "Effect": "Allow",
            "Action": [
                *on_the_stack_set,
                *(REPLICATION_CALLS if has_writer_region(spec) else ()),
            ],
            "Resource": [
                f"arn:aws:cloudformation:{region}:*:stackset/{stack_set}:*",
                f"arn:aws:cloudformation:*:*:stackset-target/{stack_set}:*",
                "arn:aws:cloudformation:*:*:type/resource/*",
            ],
            "Condition": {
                "ForAllValues:StringEquals": {
                    "cloudformation:TargetRegion": [r.name for r in spec.regions]
                }
            },
        },
        {
            "Sid": "TheBootstrapStackOnly",
            "Effect": "Allow",
            "Action": list(BOOTSTRAP_STACK_CALLS),
            "Resource": f"arn:aws:cloudformation:{region}:*:stack/{bootstrap}/*",
        },
        {
            # The template goes to the bootstrap bucket, read by CloudFormation with the
            # caller's own credentials; the preflight checks the bucket exists.
            "Sid": "UploadTheTemplate",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/{stack_set}/*"],
        },
        {
            # The preflight: is the administering region enabled. Not scoped by resource.
            "Sid": "PreflightReadsAwsDoesNotScope",
            "Effect": "Allow",
            "Action": ["ec2:DescribeRegions"],
            "Resource": "*",
        },
    ]
    if spec.stackset.call_as == "DELEGATED_ADMIN":
        statements.append(
            {
                # CloudFormation's guide: a delegated administrator needs it, or StackSet
                # calls with --call-as DELEGATED_ADMIN may fail. Not scoped by resource.
                "Sid": "DelegatedAdministratorLookup",
                "Effect": "Allow",
                "Action": ["organizations:ListDelegatedAdministrators"],
                "Resource": "*",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
