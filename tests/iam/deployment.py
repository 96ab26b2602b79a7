"""A model of one deployment of a compiled template, for the permission proof: the
physical names, ARNs and tags its resources get, and the requests CloudFormation's
handlers make for them, with the condition context IAM would see.

Names follow CloudFormation: a name property the template sets, or a generated
`<stack name>-<logical ID>-<random>` cut to the service's limit (the stack name is cut
first, which is why a policy may never rely on a stack-name prefix in a generated name:
a StackSet instance's stack name alone is 76 characters and more). IDs (VPCs, keys,
windows) are made up; a policy can only match them with `*`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from tests.iam import handlers
from tests.iam.policy import Request

ACCOUNT = "111122223333"
PARTITION = "aws"
UNRESOLVED = "UNRESOLVED"  # a value the model cannot work out: matches no name pattern
# IAM, Route 53 and Chatbot are global: their requests name us-east-1.
GLOBAL_SERVICES = {"iam", "route53", "chatbot", "cloudfront", "sts"}
RANDOM = "A1B2C3D4E5F6"  # the random suffix CloudFormation appends to names it generates

# Type -> (name property, most characters, lower-case) for names CloudFormation generates
# when the template sets none (the limits of each service's API).
NAMES = {
    "AWS::IAM::Role": ("RoleName", 64, False),
    "AWS::IAM::InstanceProfile": ("InstanceProfileName", 128, False),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName", 128, False),
    "AWS::Events::Rule": ("Name", 64, False),
    "AWS::SQS::Queue": ("QueueName", 80, False),
    "AWS::SNS::Topic": ("TopicName", 256, False),
    "AWS::Lambda::Function": ("FunctionName", 64, False),
    "AWS::AutoScaling::AutoScalingGroup": ("AutoScalingGroupName", 255, False),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("Name", 32, False),
    "AWS::ElasticLoadBalancingV2::TargetGroup": ("Name", 32, False),
    "AWS::RDS::DBInstance": ("DBInstanceIdentifier", 63, True),
    "AWS::RDS::DBSubnetGroup": ("DBSubnetGroupName", 255, True),
    "AWS::RDS::DBParameterGroup": ("DBParameterGroupName", 255, True),
    "AWS::RDS::EventSubscription": ("SubscriptionName", 255, True),
    "AWS::SSM::Document": ("Name", 128, False),
    "AWS::SSM::Parameter": ("Name", 2048, False),
    "AWS::CloudWatch::Alarm": ("AlarmName", 255, False),
    "AWS::CloudWatch::Dashboard": ("DashboardName", 255, False),
    "AWS::Logs::LogGroup": ("LogGroupName", 512, False),
    "AWS::S3::Bucket": ("BucketName", 63, True),
    "AWS::WAFv2::WebACL": ("Name", 128, False),
    "AWS::CloudTrail::Trail": ("TrailName", 128, False),
    "AWS::KMS::Alias": ("AliasName", 256, False),
    "AWS::Chatbot::SlackChannelConfiguration": ("ConfigurationName", 128, False),
    "AWS::SecretsManager::Secret": ("Name", 512, False),
}

# Type -> ID prefix, for resources AWS identifies by a generated ID.
IDS = {
    "AWS::EC2::VPC": "vpc",
    "AWS::EC2::Subnet": "subnet",
    "AWS::EC2::RouteTable": "rtb",
    "AWS::EC2::InternetGateway": "igw",
    "AWS::EC2::NatGateway": "nat",
    "AWS::EC2::EIP": "eipalloc",
    "AWS::EC2::SecurityGroup": "sg",
    "AWS::EC2::LaunchTemplate": "lt",
    "AWS::EC2::FlowLog": "fl",
    "AWS::KMS::Key": "key",
    "AWS::SSM::MaintenanceWindow": "mw",
    "AWS::SSM::MaintenanceWindowTarget": "wt",
    "AWS::SSM::MaintenanceWindowTask": "wtask",
    "AWS::SSM::PatchBaseline": "pb",
    "AWS::SSM::Association": "assoc",
    "AWS::Route53::HealthCheck": "hc",
    "AWS::Route53::HostedZone": "Z0",
    "AWS::CertificateManager::Certificate": "cert",
}

# The call that creates each type: it finds no resource to carry tags yet, the request
# carries them (aws:RequestTag).
CREATES = {
    "AWS::EC2::VPC": "ec2:CreateVpc",
    "AWS::EC2::Subnet": "ec2:CreateSubnet",
    "AWS::EC2::RouteTable": "ec2:CreateRouteTable",
    "AWS::EC2::InternetGateway": "ec2:CreateInternetGateway",
    "AWS::EC2::NatGateway": "ec2:CreateNatGateway",
    "AWS::EC2::EIP": "ec2:AllocateAddress",
    "AWS::EC2::SecurityGroup": "ec2:CreateSecurityGroup",
    "AWS::EC2::LaunchTemplate": "ec2:CreateLaunchTemplate",
    "AWS::EC2::FlowLog": "ec2:CreateFlowLogs",
    "AWS::KMS::Key": "kms:CreateKey",
    "AWS::RDS::DBInstance": "rds:CreateDBInstance",
    "AWS::RDS::DBSubnetGroup": "rds:CreateDBSubnetGroup",
    "AWS::RDS::DBParameterGroup": "rds:CreateDBParameterGroup",
    "AWS::RDS::EventSubscription": "rds:CreateEventSubscription",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "elasticloadbalancing:CreateLoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "elasticloadbalancing:CreateTargetGroup",
    "AWS::ElasticLoadBalancingV2::Listener": "elasticloadbalancing:CreateListener",
    "AWS::IAM::Role": "iam:CreateRole",
    "AWS::IAM::InstanceProfile": "iam:CreateInstanceProfile",
    "AWS::Events::Rule": "events:PutRule",
    "AWS::Lambda::Function": "lambda:CreateFunction",
    "AWS::SQS::Queue": "sqs:CreateQueue",
    "AWS::SNS::Topic": "sns:CreateTopic",
    "AWS::Logs::LogGroup": "logs:CreateLogGroup",
    "AWS::S3::Bucket": "s3:CreateBucket",
    "AWS::SSM::Parameter": "ssm:PutParameter",
    "AWS::SSM::Document": "ssm:CreateDocument",
    "AWS::SSM::MaintenanceWindow": "ssm:CreateMaintenanceWindow",
    "AWS::SSM::PatchBaseline": "ssm:CreatePatchBaseline",
    "AWS::CloudWatch::Alarm": "cloudwatch:PutMetricAlarm",
    "AWS::AutoScaling::AutoScalingGroup": "autoscaling:CreateAutoScalingGroup",
    "AWS::WAFv2::WebACL": "wafv2:CreateWebACL",
    "AWS::CertificateManager::Certificate": "acm:RequestCertificate",
    "AWS::Route53::HealthCheck": "route53:CreateHealthCheck",
    "AWS::SecretsManager::Secret": "secretsmanager:CreateSecret",
}
# Types created by another call too, with the same tags in the request: a database whose
# SourceDBInstanceIdentifier names another region's writer is a read replica.
ALSO_CREATED_BY = {"AWS::RDS::DBInstance": "rds:CreateDBInstanceReadReplica"}
# Types whose handler creates the resource untagged, sets it up, then tags it: the
# security group handler authorises and revokes rules before CreateTags
# (aws-cloudformation/cloudformation-coverage-roadmap#714, aws/aws-cdk#13204).
TAGGED_AFTER_CREATE = {"AWS::EC2::SecurityGroup"}
TAGGING = {"ec2:createtags", "elasticloadbalancing:addtags", "rds:addtagstoresource",
           "kms:tagresource", "iam:tagrole", "iam:taginstanceprofile", "lambda:tagresource",
           "events:tagresource", "sqs:tagqueue", "sns:tagresource", "logs:tagresource",
           "logs:taglogroup", "s3:putbuckettagging", "ssm:addtagstoresource",
           "cloudwatch:tagresource", "autoscaling:createorupdatetags", "wafv2:tagresource",
           "acm:addtagstocertificate", "route53:changetagsforresource",
           "secretsmanager:tagresource"}  # fmt: skip
# Types whose handlers' calls reach what these hold: a group's launch template names the
# instance profile, which names the role passed to EC2.
THROUGH = {"AWS::EC2::LaunchTemplate", "AWS::IAM::InstanceProfile"}
# Resources a service creates for a template resource, which the template does not name:
# (type, IAM resource type) -> (service, ARN resource part, carries the resource's tags).
IMPLIED = {
    # ManageMasterUserPassword: RDS keeps the password in a secret of its own naming.
    ("AWS::RDS::DBInstance", "secret"): ("secretsmanager", "secret:rds!db-0a1b2c3d-AbCdEf", True),
    # The engine's default option group, AWS's own: no tags.
    ("AWS::RDS::DBInstance", "og"): ("rds", "og:default:postgres-17", False),
    # What the group's launch template launches: tagged by its tag specifications.
    ("AWS::AutoScaling::AutoScalingGroup", "instance"): ("ec2", "instance/*", True),
    ("AWS::AutoScaling::AutoScalingGroup", "volume"): ("ec2", "volume/*", True),
    ("AWS::AutoScaling::AutoScalingGroup", "network-interface"): (
        "ec2",
        "network-interface/*",
        False,
    ),
    ("AWS::AutoScaling::AutoScalingGroup", "image"): ("ec2", "image/ami-0a1b2c3d4e5f", False),
    ("AWS::EC2::LaunchTemplate", "image"): ("ec2", "image/ami-0a1b2c3d4e5f", False),
}
# Service-linked roles the handlers of these types may create.
SERVICE_LINKED = {
    "AWS::AutoScaling::AutoScalingGroup": "autoscaling.amazonaws.com",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "elasticloadbalancing.amazonaws.com",
    "AWS::RDS::DBInstance": "rds.amazonaws.com",
    "AWS::RDS::DBSubnetGroup": "rds.amazonaws.com",
    "AWS::RDS::DBParameterGroup": "rds.amazonaws.com",
    "AWS::RDS::EventSubscription": "rds.amazonaws.com",
    "AWS::SSM::Association": "ssm.amazonaws.com",
}
# Condition keys the model decides; any other key in a policy is reported as undecided.
DECIDED = frozenset({
    "aws:RequestedRegion", "aws:ResourceTag/", "aws:RequestTag/", "aws:TagKeys",
    "iam:PassedToService", "iam:PolicyARN", "iam:AWSServiceName", "kms:ViaService",
    "kms:GrantIsForAWSResource", "ec2:CreateAction", "elasticloadbalancing:CreateAction",
    "route53:ChangeResourceRecordSetsNormalizedRecordNames",
})  # fmt: skip


def made_up_id(prefix: str, seed: str) -> str:
    return f"{prefix}-0{hashlib.sha256(seed.encode()).hexdigest()[:16]}"


def generated_name(stack: str, logical_id: str, limit: int, lower: bool) -> str:
    """`<stack>-<logical ID>-<random>`, the stack name cut first to fit `limit`."""
    room = limit - len(RANDOM) - 2
    logical = logical_id[: max(1, room // 2)] if len(logical_id) > room // 2 else logical_id
    name = f"{stack[: max(0, room - len(logical))]}-{logical}-{RANDOM}"
    return name.lower() if lower else name


@dataclass
class Resource:
    logical_id: str
    type: str
    properties: dict
    name: str = ""  # physical name or ID (what Ref returns for most types)
    arns: dict[str, str] = field(default_factory=dict)  # IAM resource type -> ARN (own first)
    tags: dict[str, str] = field(default_factory=dict)
    related: dict[str, tuple[str, dict]] = field(default_factory=dict)  # type -> (ARN, tags)


class Deployment:
    """One stack: `template` deployed as `stack_name` in `region`."""

    def __init__(
        self, template: dict, stack_name: str, region: str, parameters: dict | None = None
    ):
        self.template, self.stack_name, self.region = template, stack_name, region
        self.parameters = parameters or {}
        self.resources = {
            logical_id: Resource(logical_id, body["Type"], body.get("Properties", {}))
            for logical_id, body in template.get("Resources", {}).items()
        }
        for resource in self.resources.values():  # names first: ARNs refer to other names
            resource.name = self._physical_name(resource)
        for resource in self.resources.values():
            resource.arns = self._arns(resource)
        for resource in self.resources.values():
            resource.tags = self._tags(resource)
            resource.related = self._related(resource)

    # -- intrinsic functions ------------------------------------------------------------
    def resolve(self, value):
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((function, argument),) = value.items()
        if function == "Ref":
            return self._ref(argument)
        if function == "Fn::GetAtt":
            name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self._get_att(name, attribute)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            values = {k: self.resolve(v) for k, v in variables.items()}
            return re.sub(
                r"\$\{([^}!]+)\}",
                lambda m: str(values[m[1]] if m[1] in values else self._sub_name(m[1])),
                text,
            )
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(i) for i in self.resolve(items))
        if function == "Fn::Select":
            index, items = self.resolve(argument)
            return items[int(index)] if isinstance(items, list) else UNRESOLVED
        if function == "Fn::FindInMap":
            names = self.resolve(argument)
            try:
                return self.template["Mappings"][names[0]][names[1]][names[2]]
            except (KeyError, TypeError):
                return UNRESOLVED
        if function == "Fn::If":
            name, yes, no = argument
            return self.resolve(yes if self._condition(name) else no)
        if function == "Fn::GetAZs":
            return [f"{self.region}{letter}" for letter in "abcdef"]
        if function == "Fn::Split":
            separator, text = self.resolve(argument)
            return str(text).split(separator)
        return {function: self.resolve(argument)}

    def _condition(self, name: str) -> bool:
        return bool(self._truth(self.template["Conditions"][name]))

    def _truth(self, value) -> bool:
        ((function, argument),) = value.items()
        if function == "Fn::Equals":
            left, right = (self.resolve(a) for a in argument)
            return left == right
        if function == "Fn::Not":
            return not self._truth(argument[0])
        if function == "Fn::And":
            return all(self._truth(a) for a in argument)
        if function == "Fn::Or":
            return any(self._truth(a) for a in argument)
        if function == "Condition":
            return self._condition(argument)
        raise ValueError(f"condition function {function} is not modelled")

    def _sub_name(self, name: str) -> str:
        if "." in name:
            resource, attribute = name.split(".", 1)
            return str(self._get_att(resource, attribute))
        return str(self._ref(name))

    def _ref(self, name: str):
        pseudo = {
            "AWS::Region": self.region, "AWS::AccountId": ACCOUNT, "AWS::Partition": PARTITION,
            "AWS::StackName": self.stack_name, "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }  # fmt: skip
        if name in pseudo:
            return pseudo[name]
        if name in self.resources:
            resource = self.resources[name]
            if resource.type in (
                "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "AWS::ElasticLoadBalancingV2::TargetGroup",
                "AWS::ElasticLoadBalancingV2::Listener",
                "AWS::SNS::Topic",
                "AWS::CertificateManager::Certificate",
                "AWS::SecretsManager::Secret",
            ):
                return self._own_arn(resource)
            if resource.type == "AWS::SQS::Queue":
                return f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/{resource.name}"
            return resource.name
        if name in self.parameters:
            return self.parameters[name]
        parameter = self.template.get("Parameters", {}).get(name, {})
        return parameter.get("Default", UNRESOLVED)

    def _get_att(self, name: str, attribute: str):
        resource = self.resources.get(name)
        if resource is None:
            return UNRESOLVED
        if attribute == "Arn":
            return self._own_arn(resource)
        if attribute in ("AllocationId", "GroupId", "Id", "KeyId", "HostedZoneId"):
            return resource.name
        if attribute == "QueueName":
            return resource.name
        return f"{UNRESOLVED}-{name}.{attribute}"

    def _own_arn(self, resource: Resource) -> str:
        arns = resource.arns or self._arns(resource)
        return next(iter(arns.values()), UNRESOLVED)

    # -- names, ARNs, tags --------------------------------------------------------------
    def _physical_name(self, resource: Resource) -> str:
        if resource.type in NAMES:
            prop, limit, lower = NAMES[resource.type]
            given = resource.properties.get(prop)
            if given is not None:
                value = self.resolve(given)
                return value if isinstance(value, str) else UNRESOLVED
            return generated_name(self.stack_name, resource.logical_id, limit, lower)
        if resource.type in IDS:
            return made_up_id(IDS[resource.type], f"{self.stack_name}/{resource.logical_id}")
        return made_up_id("id", f"{self.stack_name}/{resource.logical_id}")

    def arn(self, service: str, rest: str, *, region: bool = True, account: bool = True) -> str:
        return (f"arn:{PARTITION}:{service}:{self.region if region else ''}:"
                f"{ACCOUNT if account else ''}:{rest}")  # fmt: skip

    def _iam_path(self, resource: Resource) -> str:
        path = self.resolve(resource.properties.get("Path", "/"))
        return path if isinstance(path, str) else UNRESOLVED

    def _arns(self, resource: Resource) -> dict[str, str]:
        """IAM resource type -> ARN of what this resource is (its own, first)."""
        t, n, p = resource.type, resource.name, resource.properties
        a = self.arn
        ec2 = {
            "AWS::EC2::VPC": "vpc", "AWS::EC2::Subnet": "subnet", "AWS::EC2::RouteTable": "route-table",
            "AWS::EC2::InternetGateway": "internet-gateway", "AWS::EC2::NatGateway": "natgateway",
            "AWS::EC2::EIP": "elastic-ip", "AWS::EC2::SecurityGroup": "security-group",
            "AWS::EC2::LaunchTemplate": "launch-template", "AWS::EC2::FlowLog": "vpc-flow-log",
        }  # fmt: skip
        if t in ec2:
            return {ec2[t]: a("ec2", f"{ec2[t]}/{n}")}
        if t == "AWS::IAM::Role":
            return {"role": a("iam", f"role{self._iam_path(resource)}{n}", region=False)}
        if t == "AWS::IAM::InstanceProfile":
            rest = f"instance-profile{self._iam_path(resource)}{n}"
            return {"instance-profile": a("iam", rest, region=False)}
        if t == "AWS::IAM::ManagedPolicy":
            return {"policy": a("iam", f"policy{self._iam_path(resource)}{n}", region=False)}
        simple = {
            "AWS::KMS::Key": ("kms", "key", f"key/{n}"),
            "AWS::KMS::Alias": ("kms", "alias", n),
            "AWS::Events::Rule": ("events", "rule-on-default-event-bus", f"rule/{n}"),
            "AWS::SQS::Queue": ("sqs", "queue", n),
            "AWS::SNS::Topic": ("sns", "topic", n),
            "AWS::Lambda::Function": ("lambda", "function", f"function:{n}"),
            "AWS::RDS::DBInstance": ("rds", "db", f"db:{n}"),
            "AWS::RDS::DBSubnetGroup": ("rds", "subgrp", f"subgrp:{n}"),
            "AWS::RDS::DBParameterGroup": ("rds", "pg", f"pg:{n}"),
            "AWS::RDS::EventSubscription": ("rds", "es", f"es:{n}"),
            "AWS::SSM::Parameter": ("ssm", "parameter", f"parameter/{n.lstrip('/')}"),
            "AWS::SSM::Document": ("ssm", "document", f"document/{n}"),
            "AWS::SSM::MaintenanceWindow": ("ssm", "maintenancewindow", f"maintenancewindow/{n}"),
            "AWS::SSM::PatchBaseline": ("ssm", "patchbaseline", f"patchbaseline/{n}"),
            "AWS::SSM::Association": ("ssm", "association", f"association/{n}"),
            "AWS::CloudWatch::Alarm": ("cloudwatch", "alarm", f"alarm:{n}"),
            "AWS::Logs::LogGroup": ("logs", "log-group", f"log-group:{n}"),
            "AWS::CertificateManager::Certificate": ("acm", "certificate", f"certificate/{n}"),
            "AWS::WAFv2::WebACL": ("wafv2", "webacl", f"regional/webacl/{n}/{made_up_id('acl', n)}"),
            "AWS::CloudTrail::Trail": ("cloudtrail", "trail", f"trail/{n}"),
            # Secrets Manager adds a dash and six random characters to the name.
            "AWS::SecretsManager::Secret": ("secretsmanager", "secret", f"secret:{n}-AbCdEf"),
        }  # fmt: skip
        if t in simple:
            service, kind, rest = simple[t]
            return {kind: a(service, rest)}
        if t == "AWS::CloudWatch::Dashboard":
            return {"dashboard": a("cloudwatch", f"dashboard/{n}", region=False)}
        if t == "AWS::S3::Bucket":
            return {"bucket": a("s3", n, region=False, account=False)}
        if t == "AWS::Route53::HealthCheck":
            return {"healthcheck": a("route53", f"healthcheck/{n}", region=False, account=False)}
        if t == "AWS::Route53::HostedZone":
            return {"hostedzone": a("route53", f"hostedzone/{n}", region=False, account=False)}
        if t == "AWS::AutoScaling::AutoScalingGroup":
            rest = f"autoScalingGroup:{made_up_id('uuid', n)}:autoScalingGroupName/{n}"
            return {"autoscalinggroup": a("autoscaling", rest)}
        if t == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            return {
                "loadbalancer/app/": a("elasticloadbalancing", f"loadbalancer/app/{n}/0a1b2c3d")
            }
        if t == "AWS::ElasticLoadBalancingV2::TargetGroup":
            return {"targetgroup": a("elasticloadbalancing", f"targetgroup/{n}/0a1b2c3d")}
        if t == "AWS::ElasticLoadBalancingV2::Listener":
            balancer = str(self.resolve(p.get("LoadBalancerArn"))).split("loadbalancer/", 1)[-1]
            return {"listener/app": a("elasticloadbalancing", f"listener/{balancer}/0e0f")}
        if t == "AWS::Chatbot::SlackChannelConfiguration":
            rest = f"chat-configuration/slack-channel/{n}"
            return {"chat-configuration": a("chatbot", rest, region=False)}
        return {}

    def _tags(self, resource: Resource) -> dict[str, str]:
        p = resource.properties
        raw = p.get("Tags", p.get("HealthCheckTags", p.get("HostedZoneTags")))
        for specification in p.get("TagSpecifications", []):  # a launch template's own
            if specification.get("ResourceType") == "launch-template":
                raw = specification.get("Tags")
        raw = self.resolve(raw) if raw is not None else None
        if isinstance(raw, dict):
            return {str(k): str(v) for k, v in raw.items()}
        if isinstance(raw, list):
            return {str(t["Key"]): str(t["Value"]) for t in raw if isinstance(t, dict)}
        return {}

    def _by_ref(self, value) -> Resource | None:
        """The template resource a Ref/GetAtt names, if any."""
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref" and argument in self.resources:
                return self.resources[argument]
            if function == "Fn::GetAtt":
                name = argument[0] if isinstance(argument, list) else argument.split(".")[0]
                return self.resources.get(name)
        return None

    def _related(self, resource: Resource) -> dict[str, tuple[str, dict]]:
        """Other resources the handler's calls are authorised on, by IAM type: those the
        resource's properties name (its VPC, subnets, key, role, log group...)."""
        found: dict[str, tuple[str, dict]] = {}

        def walk(value):
            target = self._by_ref(value)
            if target is not None and target is not resource:
                for kind, arn in target.arns.items():
                    found.setdefault(kind, (arn, target.tags or self._tags(target)))
                if target.type in THROUGH:  # what a launch template or profile holds
                    walk(target.properties)
                return
            if isinstance(value, dict):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk(resource.properties)
        zone = resource.properties.get("HostedZoneId")
        for option in resource.properties.get("DomainValidationOptions", []):
            zone = option.get("HostedZoneId", zone)  # ACM writes its validation records
        if zone is not None and "hostedzone" not in found:
            arn = self.arn(
                "route53", f"hostedzone/{self.resolve(zone)}", region=False, account=False
            )
            found["hostedzone"] = (arn, {})
        return found

    def roles(self) -> list[Resource]:
        return [r for r in self.resources.values() if r.type == "AWS::IAM::Role"]


@dataclass(frozen=True)
class Call:
    """One request a handler makes: what the proof checks against the deploy role."""

    resource: Resource
    operation: str
    action: str
    request: Request

    def describe(self) -> str:
        return (f"{self.resource.logical_id} ({self.resource.type}) {self.operation} handler: "
                f"{self.action} on {self.request.resource}")  # fmt: skip


def _trusted_services(role: Resource) -> list[str]:
    document = role.properties.get("AssumeRolePolicyDocument", {})
    services = []
    for statement in document.get("Statement", []):
        principal = statement.get("Principal", {}).get("Service", [])
        services += principal if isinstance(principal, list) else [principal]
    return services


def calls(deployment: Deployment, resource: Resource) -> list[Call]:
    """Every request the handlers of `resource` make, one per action and ARN."""
    out: list[Call] = []
    permissions = handlers.handler_permissions(resource.type)
    creator = CREATES.get(resource.type, "")
    for operation, actions in permissions.items():
        for action in actions:
            for target, context in _targets(deployment, resource, operation, action, creator):
                out.append(
                    Call(resource, operation, action, Request(action, target, context, DECIDED))
                )
    return out


def _targets(deployment: Deployment, resource: Resource, operation: str, action: str, creator: str):
    service, _, name = action.lower().partition(":")
    region = "us-east-1" if service in GLOBAL_SERVICES else deployment.region
    base: dict[str, list[str]] = {"aws:RequestedRegion": [region]}
    if service == "kms" and not resource.type.startswith("AWS::KMS::"):
        # The service that encrypts calls KMS on the caller's behalf (forward access).
        via = resource.type.split("::")[1].lower()
        via = {"autoscaling": "ec2", "elasticloadbalancingv2": "elasticloadbalancing"}.get(via, via)
        base["kms:ViaService"] = [f"{via}.{deployment.region}.amazonaws.com"]
        base["kms:GrantIsForAWSResource"] = ["true"]
    tags = resource.tags
    tag_context = {f"aws:RequestTag/{k}": [v] for k, v in tags.items()}
    if tags:
        tag_context["aws:TagKeys"] = list(tags)
    lowered = action.lower()
    if lowered == "iam:createservicelinkedrole":
        service_name = SERVICE_LINKED.get(resource.type, "unknown.amazonaws.com")
        rest = f"role/aws-service-role/{service_name}/AWSServiceRoleFor{RANDOM}"
        yield (
            deployment.arn("iam", rest, region=False),
            {**base, "iam:AWSServiceName": [service_name]},
        )
        return
    if lowered in ("iam:attachrolepolicy", "iam:detachrolepolicy") and not resource.properties.get(
        "ManagedPolicyArns"
    ):
        return  # nothing to attach or detach
    kinds = handlers.action_resource_types(action) if "*" not in action else ()
    creators = {creator.lower(), ALSO_CREATED_BY.get(resource.type, creator).lower()}
    creating = operation == "create" and lowered in creators
    if not kinds:
        yield "*", {**base, **(tag_context if creating else {})}
        return
    tagging_on_create = operation == "create" and lowered in TAGGING and creator
    if lowered in TAGGING and not tags:
        return  # nothing to tag: the handler makes no tagging call
    if "tag" in name and any(kind in resource.arns for kind in kinds):
        kinds = tuple(kind for kind in kinds if kind in resource.arns)  # tags of itself only
    yielded = False
    for kind in kinds:
        if kind in resource.arns or kind in resource.related or (resource.type, kind) in IMPLIED:
            yielded = True
        if kind in resource.arns:
            context = dict(base)
            if operation == "create" and resource.type in TAGGED_AFTER_CREATE:
                if lowered in TAGGING:  # a CreateTags call of its own, after the rules
                    context.update(tag_context)
            elif creating or tagging_on_create:
                context.update(tag_context)
                if tagging_on_create and service in ("ec2", "elasticloadbalancing"):
                    context[f"{service}:CreateAction"] = [creator.split(":")[1]]
            else:
                context.update({f"aws:ResourceTag/{k}": [v] for k, v in tags.items()})
                if action.lower() in TAGGING:
                    context.update(tag_context)
            yield from _with_iam_keys(deployment, resource, action, resource.arns[kind], context)
        elif kind in resource.related:
            arn, related_tags = resource.related[kind]
            context = {**base, **{f"aws:ResourceTag/{k}": [v] for k, v in related_tags.items()}}
            if creating:
                context.update(tag_context)
            yield from _with_iam_keys(deployment, resource, action, arn, context)
        elif (resource.type, kind) in IMPLIED:
            arn_service, rest, carries_tags = IMPLIED[resource.type, kind]
            account = arn_service != "ec2" or not rest.startswith("image/")
            context = {**base, **(tag_context if carries_tags else {})}
            yield deployment.arn(arn_service, rest, account=account), context
    if not yielded:
        # Authorised on a resource the template does not name (an instance the group
        # launches): the proof knows no name or tags for it.
        arn_service = handlers.arn_service(service, kinds[0])
        global_arn = arn_service in GLOBAL_SERVICES
        yield deployment.arn(arn_service, f"{kinds[0]}/*", region=not global_arn), base


def _with_iam_keys(
    deployment: Deployment, resource: Resource, action: str, arn: str, context: dict
):
    lowered = action.lower()
    if lowered == "iam:passrole":
        role = next((r for r in deployment.roles() if r.arns.get("role") == arn), None)
        for service in _trusted_services(role) if role else [None]:
            yield arn, {**context, **({"iam:PassedToService": [service]} if service else {})}
        return
    if lowered in ("iam:attachrolepolicy", "iam:detachrolepolicy"):
        policies = deployment.resolve(resource.properties.get("ManagedPolicyArns", []))
        for policy in policies or [None]:
            yield arn, {**context, **({"iam:PolicyARN": [policy]} if policy else {})}
        return
    if lowered == "route53:changeresourcerecordsets" and resource.type == "AWS::Route53::RecordSet":
        record = str(deployment.resolve(resource.properties.get("Name", ""))).rstrip(".").lower()
        context = {**context, "route53:ChangeResourceRecordSetsNormalizedRecordNames": [record]}
    if lowered == "route53:changeresourcerecordsets" and resource.type.endswith("::Certificate"):
        # DNS validation: `_<token>.<domain>` CNAME records, one per domain.
        domain = str(deployment.resolve(resource.properties.get("DomainName", ""))).lower()
        names = [f"_0a1b2c3d4e5f.{domain}"]
        context = {**context, "route53:ChangeResourceRecordSetsNormalizedRecordNames": names}
    yield arn, context
