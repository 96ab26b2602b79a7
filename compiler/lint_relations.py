"""Which resource types cfn-lint relates to one another, by reading one resource's
properties while it validates another: the reviewed list the lint view
(`compiler/lint_view.py`) decides by which of a StackSet template's resources it may copy
once for all regions, and which it must copy for each region.

The lint view holds, for each region, a copy of every resource with a region lookup.
Two such resources that refer to one another (a subnet and its VPC) are "linked"; a
linked resource whose copies would differ only in which region's copies they name (the
database, whose master password names the master secret, whose replica regions differ
by region) may be copied once, naming the original resources, when no cfn-lint rule
reads the properties of what is on the other side of its links: in cfn-lint's
validation context another resource is only its type and condition
(`cfnlint/context/context.py`, class `Resource`), which the original has as every copy
does, so a reference resolves, and is checked, the same whichever of them it names.
The rules that do read other resources are listed here: `RELATED_TYPES` for those whose
findings depend on what a link names, `UNRELATED` (with the reason) for the rest.
tests/test_lint_relations.py scans the installed cfn-lint's rules and fails on a rule
that reads other resources and is in neither, so that an upgrade cannot make the lint
view weaker unseen.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

ANY = "*"

# Rule ID -> (type validated, type whose properties it reads) pairs: a resource of either
# type linked to one of the other is copied for each region, its links naming the same
# region's copies. ANY: whatever the link names (the rule groups resources by the names
# their links hold, or reads any resource a property names). The cfnGather rules
# (relations declared in cfn-lint's schema extensions, `data/schemas/extensions`) are
# checked against those files by the test.
RELATED_TYPES: dict[str, tuple[tuple[str, str], ...]] = {
    # Counts the subscription filters of each log group by the value of LogGroupName.
    "E2529": (("AWS::Logs::SubscriptionFilter", ANY), ("AWS::Serverless::Function", ANY)),
    # Finds a subnet associated twice by the value of SubnetId.
    "E3022": (("AWS::EC2::SubnetRouteTableAssociation", ANY),),
    # Reads the parameters of the replication group's cache parameter group.
    "E3026": (("AWS::ElastiCache::ReplicationGroup", ANY),),
    # Reads the task definition's port mappings and the target group's health check port.
    "E3049": (
        ("AWS::ECS::Service", "AWS::ECS::TaskDefinition"),
        ("AWS::ECS::Service", "AWS::ElasticLoadBalancingV2::TargetGroup"),
    ),
    # Reads the Path of the IAM role a CodeBuild project's ServiceRole refers to.
    "E3050": (("AWS::CodeBuild::Project", ANY),),
    "E3052": (("AWS::ECS::Service", "AWS::ECS::TaskDefinition"),),  # cfnGather
    "E3054": (("AWS::ECS::Service", "AWS::ECS::TaskDefinition"),),  # cfnGather
    # Reads the CIDRs of the subnets and VPC CIDR blocks that refer to the VPC.
    "E3059": (("AWS::EC2::VPC", "AWS::EC2::Subnet"), ("AWS::EC2::VPC", "AWS::EC2::VPCCidrBlock")),
    # Compares the CIDRs of the subnets whose VpcId holds the same name.
    "E3060": (("AWS::EC2::Subnet", ANY),),
    # Compares the interface endpoints whose VpcId and ServiceName hold the same names.
    "E3064": (("AWS::EC2::VPCEndpoint", ANY),),
    "E3502": (("AWS::SQS::Queue", "AWS::SQS::Queue"),),  # cfnGather: the dead-letter queue
    "E3505": (  # cfnGather
        ("AWS::Lambda::EventSourceMapping", "AWS::Lambda::Function"),
        ("AWS::Lambda::EventSourceMapping", "AWS::SQS::Queue"),
    ),
    # Reads the ImageId of the instance's launch template.
    "E3673": (("AWS::EC2::Instance", "AWS::EC2::LaunchTemplate"),),
    "E3698": (("AWS::ApiGateway::Stage", "AWS::ApiGateway::Deployment"),),  # cfnGather
    "E3699": (("AWS::ApiGateway::Method", "AWS::ApiGateway::Authorizer"),),  # cfnGather
    "E3705": (("AWS::Lambda::EventSourceMapping", "AWS::SQS::Queue"),),  # cfnGather
    "E3707": (("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"),),  # cfnGather
    "E3708": (("AWS::ApiGateway::Method", "AWS::ApiGateway::Authorizer"),),  # cfnGather
    "E3709": (("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"),),  # cfnGather
    "E3711": (  # cfnGather
        ("AWS::ElasticLoadBalancingV2::ListenerRule", "AWS::ElasticLoadBalancingV2::TargetGroup"),
    ),
    "E3712": (  # cfnGather
        ("AWS::AutoScaling::ScalingPolicy", "AWS::AutoScaling::AutoScalingGroup"),
    ),
    "E3713": (("AWS::ECS::Service", "AWS::ECS::TaskDefinition"),),  # cfnGather
    "E3714": (  # cfnGather: the security groups' and the subnets' VPCs
        ("AWS::EC2::LaunchTemplate", "AWS::EC2::SecurityGroup"),
        ("AWS::EC2::LaunchTemplate", "AWS::EC2::Subnet"),
    ),
    # Looks for a Lambda version that refers to the function.
    "W2530": (("AWS::Lambda::Function", "AWS::Lambda::Version"),),
    # Reads the types of the resources that refer to the REST API.
    "W3660": (("AWS::ApiGateway::RestApi", ANY),),
    "W3663": (("AWS::Lambda::Permission", "AWS::S3::Bucket"),),  # cfnGather
    "W3664": (("AWS::Lambda::Permission", ANY),),  # cfnGather, any SourceArn target
    # Not a rule: cfn-lint's context reads a nested stack's TemplateURL for the attributes
    # a Fn::GetAtt to it may name (`context.Resource`), so a link to a nested stack matters.
    "context": ((ANY, "AWS::CloudFormation::Stack"),),
}

# E3019 compares the primary identifiers of the resources of a type; a link inside one
# (a name made of another resource's name) would hold the original's name in a shared
# copy and a region copy's name in another resource's copy. The lint view copies such a
# resource for each region (`identifier_properties`).
PRIMARY_IDENTIFIERS = "E3019"

# Rules that validate one resource at a time (cfn-lint's keyword rules) and compare it
# with the resources of its type they validated before in the same template: the type
# they compare. The shared runs of a lint (`lint._shared_resources`), which validate each
# resource in one of two runs, validate every resource of these types in both, so that
# each run compares all of them.
COMPARED_WITH_EARLIER: dict[str, str] = {
    "E3060": "AWS::EC2::Subnet",  # overlapping CIDRs in one VPC
    "E3064": "AWS::EC2::VPCEndpoint",  # two private-DNS endpoints of a service in one VPC
}
# Keyword rules that keep state, but none from one resource to another, with the reason.
STATE_OF_ONE_RESOURCE: dict[str, str] = {
    "E3027": "re-made for each template, nothing kept",
    "E3701": "artifact names, kept per pipeline",
}

# Rules that read more than the resource they validate (the whole template, other
# resources by type or by name, or what they saw of earlier resources) whose findings do
# not depend on which copy a link names, with the reason.
UNRELATED: dict[str, str] = {
    "E1001": "the schema driver: validates each resource by its type's schema and hands it "
    "to the keyword rules (those read other resources as listed)",
    "E1002": "the size of the template file (not of the lint view, which is no file)",
    "I1002": "the size of the template file (not of the lint view, which is no file)",
    "E1010": "a Fn::GetAtt's attribute against the target's type (context), which the "
    "original has as every copy does",
    "E1029": "names in strings outside Fn::Sub against the template's names; each name a "
    "copy holds is in the template",
    "E1032": "Fn::ForEach, with the language extensions transform",
    "E1041": "a Ref's form, against the target's type (context)",
    "E2015": "parameter defaults",
    "E2530": "the function's own SnapStart and runtime",
    "E3004": "reference cycles: a shared copy names originals, which name no copy, so it "
    "adds no cycle; the originals hold the template's own",
    "E3005": "a DependsOn target exists, and its condition (context)",
    "E3006": "the resource's own type, in each region",
    "E3007": "resource logical IDs against parameter names",
    "E3019": "compares primary identifiers: see PRIMARY_IDENTIFIERS",
    "E3027": "the rule's state is re-made per template, nothing kept from one resource",
    "E3039": "the table's own attribute definitions and key schema",
    "E3041": "the record set's own name and hosted zone name",
    "E3043": "a nested stack's parameters against its own template file",
    "E3503": "the certificate's own domain validation options",
    "E3701": "artifact names within one pipeline (its state is keyed by the pipeline)",
    "E3724": "SAM globals",
    "E5001": "modules",
    "I3042": "each resource's own strings",
    "I3100": "each resource's own instance type",
    "I4010": "each resource's own metadata and logical ID",
    "W4011": "each resource's own metadata and logical ID",
    "W4012": "each resource's own metadata and logical ID",
    "W1001": "conditions of a reference's source and target: a copy has its original's",
    "W1020": "Fn::Sub without variables",
    "W1100": "YAML merge keys in the file",
    "W1101": "YAML aliases in the file",
    "W2001": "parameters used anywhere: the originals keep every use",
    "W2501": "each password property's own value, and the NoEcho of the parameter it names",
    "W2533": "the function's own package type, handler and runtime",
    "W3005": "a resource's DependsOn against its own references to the same target, renamed "
    "alike in a copy",
    "W3045": "the bucket's own AccessControl",
    "W7001": "mappings used anywhere: the originals keep every use",
    "W8001": "conditions used anywhere: the originals keep every use",
}


# The property a lint view copy may leave out when it holds no region lookup.
TAGS = "Tags"
# Resource types whose `Tags` cfn-lint validates on their own: in each region's provider
# schema they are named nowhere but in their own entry (no `required`, dependency or
# combined schema at the top ties them to another property), and no rule reads them
# but E3024, which checks them alone (and the modules rule, for modules). A lint view
# copy of such a resource leaves out Tags without region lookups: they are the
# original's, which cfn-lint checks in every region as it would the copy's, and at 16
# regions they were a tenth of a StackSet lint's time (docs/speed.md). The types whose
# resources the builders tag; tests/test_lint_relations.py checks each against the
# installed cfn-lint's schemas of every region and its rules' sources and schema files.
# A type not listed keeps its Tags in its copies.
TAGS_VALIDATED_ALONE: frozenset[str] = frozenset({
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::CertificateManager::Certificate",
    "AWS::CloudTrail::Trail",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::EC2::EIP",
    "AWS::EC2::FlowLog",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::NatGateway",
    "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::Subnet",
    "AWS::EC2::VPC",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::Events::Rule",
    "AWS::IAM::Role",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::Logs::LogGroup",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBParameterGroup",
    "AWS::RDS::DBSubnetGroup",
    "AWS::RDS::EventSubscription",
    "AWS::S3::Bucket",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::SSM::Association",
    "AWS::SSM::Document",
    "AWS::SSM::MaintenanceWindow",
    "AWS::SSM::Parameter",
    "AWS::SSM::PatchBaseline",
    "AWS::SecretsManager::Secret",
    "AWS::WAFv2::WebACL",
})  # fmt: skip


# Where a resource of each type holds an IAM policy document that cfn-lint's policy
# rules (E3512 resource, E3510 identity policies) validate statement by statement: each
# item of its `Statement` list on its own, but for the `Sid`s, which must differ between
# statements (`uniqueKeys`). A lint view copy of such a resource holds only the
# statements that differ from the original's, when their `Sid`s do not (lint_view.py):
# the others are the original's, which cfn-lint checks in every region, `Sid`s and all
# (the logs bucket policy's 16 copies at 16 regions, each a whole policy validation, were
# a sixth of a StackSet lint's time). Only documents whose provider schema checks them,
# and the properties on the way to them, by type and shape alone: not IAM::Policy's or
# IAM::ManagedPolicy's document or a role's trust policy, whose schemas limit the
# document's length (E3033 measures the whole document, which a shortened copy is not).
# ANY: every item of a list. tests/test_lint_relations.py checks the paths against the
# rules' keywords and every region's provider schema, the policy schemas' `Statement`
# lists for keywords that relate one item to another, and the rules that read a
# statement for reading another.
POLICY_DOCUMENTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "AWS::IAM::Group": (("Properties", "Policies", ANY, "PolicyDocument"),),
    "AWS::IAM::Role": (("Properties", "Policies", ANY, "PolicyDocument"),),
    "AWS::IAM::User": (("Properties", "Policies", ANY, "PolicyDocument"),),
    "AWS::KMS::Key": (("Properties", "KeyPolicy"),),
    "AWS::S3::BucketPolicy": (("Properties", "PolicyDocument"),),
    "AWS::SNS::TopicPolicy": (("Properties", "PolicyDocument"),),
    "AWS::SQS::QueuePolicy": (("Properties", "PolicyDocument"),),
}


def related(first: str, second: str) -> bool:
    """Whether a cfn-lint rule reads the properties of a resource of one of the types
    while validating a resource of the other, across a link between them."""
    return any(
        (_matches(source, first) and _matches(target, second))
        or (_matches(source, second) and _matches(target, first))
        for pairs in RELATED_TYPES.values()
        for source, target in pairs
    )


def _matches(listed: str, resource_type: str) -> bool:
    return listed in (ANY, resource_type)


@functools.cache
def identifier_properties(resource_type: str) -> frozenset[str] | None:
    """The top-level properties E3019 may compare for `resource_type` (a superset: its
    schema's primary identifier, read-only or not, and the rule's configured
    exceptions); None for a type cfn-lint has no schema for (then every property)."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
    from cfnlint.schema.manager import ResourceNotFoundError

    from compiler.lint import cfn_lint_rules

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    except ResourceNotFoundError:
        return None
    rule = cfn_lint_rules()[PRIMARY_IDENTIFIERS]
    exceptions = rule.config.get("exceptions", {}).get(resource_type, {})
    paths: Iterable[str] = [
        *schema.get("primaryIdentifier", []),
        *exceptions.get("primaryIdentifier", []),
    ]
    return frozenset(path.removeprefix("/properties/").split("/")[0] for path in paths)
