"""The bootstrap stack deploy.sh creates in each region before a stack there needs a
template bucket: templates over CloudFormation's 51,200-byte inline limit must be read
from S3, from a bucket in the stack's own region (aws/aws-cli#4372).

Its own template is small, so it is always sent inline: nothing has to exist before it.
Like every template here it is pure (spec in, troposphere out); render writes it as
`bootstrap.json`, one file for every region (the bucket name takes the region from
`AWS::Region`).
"""

from __future__ import annotations

from troposphere import Output, Ref, Template

from compiler import naming
from compiler.builders import skip_check
from compiler.builders.buckets import S3_MANAGED_ENCRYPTION, private_bucket
from compiler.spec import InfraSpec
from compiler.spec.access import BOOTSTRAP_BUCKET

BOOTSTRAP_TEMPLATE = "bootstrap.json"
BUCKET_ID = "TemplateBucket"
BUCKET_OUTPUT = "TemplateBucketName"
# `aws cloudformation deploy` uploads every template version under a new key (its hash);
# an old one is of no use once its stack is deployed.
TEMPLATE_EXPIRY_DAYS = 30


def bootstrap_template(spec: InfraSpec) -> Template:
    template = Template(
        Description=(
            f"deploy.sh bootstrap of {naming.name_prefix(spec)}: the bucket templates over "
            "51,200 bytes are uploaded to in this region"
        )
    )
    bucket, policy = private_bucket(
        BUCKET_ID,
        naming.bucket_name(spec, BOOTSTRAP_BUCKET),
        # Templates are no secret, and S3-managed keys let CloudFormation read them with
        # the caller's rights alone (no KMS grant).
        S3_MANAGED_ENCRYPTION,
        1,
        "Templates deploy.sh uploads for the stacks of this region (over 51,200 bytes)",
        expire_days=TEMPLATE_EXPIRY_DAYS,
    )
    skip_check(
        bucket,
        "CKV_AWS_18",
        "Holds only the templates deploy.sh uploads before a stack operation, which "
        "CloudTrail records; an access-log bucket would need a bootstrap of its own in "
        "every region",
    )
    template.add_resource(bucket)
    template.add_resource(policy)
    template.add_output(
        Output(BUCKET_OUTPUT, Description="--s3-bucket for this region", Value=Ref(bucket))
    )
    return template
