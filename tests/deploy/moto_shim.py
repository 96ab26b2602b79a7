"""Test-only rewrites that let moto 5.2 deploy a template that is right for AWS.

The compiler's templates are written for AWS and stay that way: where moto_server cannot
take a valid template, the deploy tests rewrite a copy here, one function per moto gap,
each naming the gap it works around. Delete a rewrite once moto closes its gap.

Gaps of moto 5.2 that need no rewrite, but that tests must allow for:

- Stack outputs are empty after `aws cloudformation deploy`: look resources up with
  `describe-stack-resources` (see `aws_cli.stack_resources`).
- A failed create is not rolled back: reset the emulator between deploys.
- Many types are accepted but not created (WAF, alarms, SSM patching, bucket policies,
  security group egress rules, scaling policies, ...): assert only on what moto models.
- `Fn::Cidr` is not implemented: `rewrite_for_moto` refuses a template that uses it,
  rather than letting moto fail somewhere obscure.
- A bucket's `ReplicationConfiguration` from CloudFormation is not applied (no
  `get-bucket-replication` afterwards): check the writer stack's `ReplicateBuckets`
  parameter and its replication role instead.
- A bucket's `PublicAccessBlockConfiguration` from CloudFormation is not applied
  (`get-public-access-block` answers NoSuchPublicAccessBlockConfiguration): check the
  template for it instead.
- `promote-read-replica` leaves `ReadReplicaSourceDBInstanceIdentifier` on the promoted
  instance: check the commands `deploy.sh promote` ran, not the instance afterwards.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from .aws_cli import AwsCli

# A domain for the certificates requested from moto; moto issues them without validation.
CERTIFICATE_DOMAIN = "deploy-test.example.com"
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):\d{12}:certificate/[0-9a-f-]+$")


class MotoGapError(ValueError):
    """The template uses something moto cannot deploy and no rewrite here handles."""


def prepare_for_moto(
    aws: AwsCli, template: dict, *, region: str, stack_name: str, zones: list[str]
) -> dict:
    """Create in moto what the rewrites point at, then return the rewritten copy.

    `zones`: the region's AZ names as `aws_cli.availability_zones` lists them.
    """
    stand_ins = create_stand_ins(aws, template, region=region, stack_name=stack_name)
    return rewrite_for_moto(template, availability_zones=zones, **stand_ins)


def create_stand_ins(
    aws: AwsCli, template: dict, *, region: str, stack_name: str
) -> dict[str, dict[str, str]]:
    """Create in moto what the rewrites point at; `rewrite_for_moto`'s keyword arguments
    for them. Created once, they serve later versions of the same stack's template too."""
    certificates = {
        arn: request_certificate(aws, arn_region)
        for arn, arn_region in acm_certificate_arns(template).items()
    }
    groups = {
        logical_id: create_parameter_group(
            aws, properties, name=f"{stack_name}-{logical_id}".lower(), region=region
        )
        for logical_id, properties in parameter_groups(template).items()
    }
    values = {
        name: aws.run_json("ssm", "get-parameter", "--name", path, region=region)["Parameter"][
            "Value"
        ]
        for name, path in ssm_typed_parameters(template).items()
    }
    return {
        "certificate_arns": certificates,
        "parameter_group_names": groups,
        "ssm_parameter_values": values,
    }


def rewrite_for_moto(
    template: dict,
    *,
    availability_zones: list[str],
    certificate_arns: Mapping[str, str],
    parameter_group_names: Mapping[str, str],
    ssm_parameter_values: Mapping[str, str] | None = None,
    keep_retain_except_on_create: bool = False,
) -> dict:
    """A rewritten copy of `template`; pure, so it can be checked without moto.
    `keep_retain_except_on_create`: for moto as moto_launcher.py patches it, which keeps
    such a resource on delete and deletes it when its create is rolled back."""
    result = copy.deepcopy(template)
    result = resolved_ssm_parameters(result, ssm_parameter_values or {})
    result = literal_availability_zones(result, availability_zones)
    result = replace_certificate_arns(result, certificate_arns)
    result = inline_parameter_group_names(result, parameter_group_names)
    result = kms_key_tags_in_api_shape(result)
    result = ssm_parameter_tags_as_list(result)
    result = target_group_full_name_from_arn(result)
    result = cloudtrail_trail_arn_from_name(result)
    result = database_secret_arn_stand_in(result)
    result = secret_stand_ins(result)
    result = replica_subnet_group_from_source(result)
    if not keep_retain_except_on_create:
        result = retain_except_on_create_as_retain(result)
    reject_unsupported(result)
    return result


# --- the rewrites, one per moto gap ---------------------------------------------------


def literal_availability_zones(template: dict, zones: list[str]) -> dict:
    """`{"Fn::Select": [i, {"Fn::GetAZs": ...}]}` -> the region's i-th AZ name.

    Moto gap: `Fn::GetAZs` always answers with us-east-1's zones, so subnets of any
    other region land in AZs that do not exist there. AWS lists zones alphabetically;
    `zones` comes sorted from `describe-availability-zones` in the stack's region.
    """

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Fn::Select"}:
            index, source = node["Fn::Select"]
            if isinstance(source, dict) and set(source) == {"Fn::GetAZs"}:
                return zones[int(index)]
        return None

    return _transform(template, rewrite)


def replace_certificate_arns(template: dict, arns: Mapping[str, str]) -> dict:
    """Each ACM certificate ARN of the spec -> one that moto issued in the same region.

    Moto gap: an HTTPS listener fails with CertificateNotFound unless its certificate
    exists in moto's ACM. Every occurrence is replaced (listener properties, and the
    StackSet template's region mapping alike).
    """
    return _transform(template, lambda node: arns.get(node) if isinstance(node, str) else None)


def inline_parameter_group_names(template: dict, names: Mapping[str, str]) -> dict:
    """Drop each `AWS::RDS::DBParameterGroup` and put the name of a twin created
    beforehand through the API (`create_parameter_group`) where it was `Ref`-ed.

    Moto gap: `Ref` to a DB parameter group yields moto's internal object, not its
    name, and `DBParameterGroupName: {"Ref": ...}` answers HTTP 500. Moto also names
    the group itself with a random suffix, so the stack's own group cannot be named
    in advance: the twin carries the same family, description and parameters.
    """
    resources = template["Resources"]
    for logical_id in names:
        del resources[logical_id]
    for resource in resources.values():
        depends_on = resource.get("DependsOn")
        if isinstance(depends_on, str) and depends_on in names:
            del resource["DependsOn"]
        elif isinstance(depends_on, list):
            resource["DependsOn"] = [d for d in depends_on if d not in names]

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in names:
            return names[node["Ref"]]
        return None

    return _transform(template, rewrite)


def kms_key_tags_in_api_shape(template: dict) -> dict:
    """`AWS::KMS::Key` tags `{Key, Value}` -> `{TagKey, TagValue}`.

    Moto gap: moto passes a KMS key's CloudFormation tags to its KMS API model as they
    are, which reads `TagKey` and fails with KeyError (HTTP 500) on the `Key` shape that
    CloudFormation (and AWS) use for this type.
    """
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::KMS::Key" and "Tags" in resource.get("Properties", {}):
            resource["Properties"]["Tags"] = [
                {"TagKey": tag["Key"], "TagValue": tag["Value"]}
                for tag in resource["Properties"]["Tags"]
            ]
    return template


def ssm_parameter_tags_as_list(template: dict) -> dict:
    """`AWS::SSM::Parameter` tags `{name: value}` -> `[{Key, Value}]`.

    Moto gap: for this one type CloudFormation (and AWS) take tags as a JSON object;
    moto iterates them as a list of `{Key, Value}` and fails with TypeError (HTTP 500).
    """
    for resource in template["Resources"].values():
        tags = resource.get("Properties", {}).get("Tags")
        if resource["Type"] == "AWS::SSM::Parameter" and isinstance(tags, dict):
            resource["Properties"]["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return template


def target_group_full_name_from_arn(template: dict) -> dict:
    """`GetAtt TG.TargetGroupFullName` -> the same value cut from the group's ARN.

    Moto gap: moto's target group has no attributes for `Fn::GetAtt` (AttributeError,
    HTTP 500). The full name CloudWatch wants is the ARN's last `:` field,
    `targetgroup/<name>/<id>`, and moto's `Ref` gives the ARN.
    """

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
            logical_id, attribute = node["Fn::GetAtt"]
            if attribute == "TargetGroupFullName":
                return {"Fn::Select": [5, {"Fn::Split": [":", {"Ref": logical_id}]}]}
        return None

    return _transform(template, rewrite)


def cloudtrail_trail_arn_from_name(template: dict) -> dict:
    """`GetAtt Trail.Arn` -> the trail's ARN built from its `TrailName`.

    Moto gap: moto accepts `AWS::CloudTrail::Trail` in a template but creates nothing,
    so any `Fn::GetAtt` on the trail fails the deploy ("references undefined resource").
    A trail's ARN is `arn:<partition>:cloudtrail:<region>:<account>:trail/<name>`.
    """
    names = {
        logical_id: resource["Properties"]["TrailName"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudTrail::Trail"
        and isinstance(resource.get("Properties", {}).get("TrailName"), str)
    }

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
            logical_id, attribute = node["Fn::GetAtt"]
            if logical_id in names and attribute == "Arn":
                return {
                    "Fn::Sub": "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:"
                    f"${{AWS::AccountId}}:trail/{names[logical_id]}"
                }
        return None

    return _transform(template, rewrite)


def database_secret_arn_stand_in(template: dict) -> dict:
    """`GetAtt DB.MasterUserSecret.SecretArn` -> a Secrets Manager ARN of the same shape.

    Moto gap: moto's DB instance has no `MasterUserSecret.SecretArn` attribute ("does not
    support attribute type"), and creates no secret for `ManageMasterUserPassword`. RDS
    names the secret it manages `rds!db-<id>`; the stand-in names the logical ID.
    """

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
            logical_id, attribute = node["Fn::GetAtt"]
            if attribute == "MasterUserSecret.SecretArn":
                return {
                    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:"
                    f"${{AWS::AccountId}}:secret:rds!db-{logical_id.lower()}-AbCdEf"
                }
        return None

    return _transform(template, rewrite)


# What a stand-in secret's `{{resolve:secretsmanager:...:password}}` becomes.
STAND_IN_PASSWORD = "motoStandInPassword0123456789"


def secret_stand_in_arn(logical_id: str, region: str, account: str) -> str:
    """The ARN `secret_stand_ins` gives the stack secret `logical_id` (no partition other
    than aws in moto; `region` and `account` may be `${...}` for a Sub)."""
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{logical_id}-AbCdEf"


def secret_stand_ins(template: dict) -> dict:
    """Each AWS::SecretsManager::Secret -> gone; its `Ref` -> a Secrets Manager ARN of the
    same shape; a dynamic reference to it -> STAND_IN_PASSWORD.

    Moto gap: "No Moto CloudFormation support for AWS::SecretsManager::Secret": moto skips
    the resource, so its Ref is empty (and an SSM parameter given it fails), and moto
    resolves no `{{resolve:secretsmanager:...}}` reference.
    """
    resources = template.get("Resources", {})
    secrets = [k for k, v in resources.items() if v.get("Type") == "AWS::SecretsManager::Secret"]
    if not secrets:
        return template
    result = dict(template)
    result["Resources"] = {k: v for k, v in resources.items() if k not in secrets}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in secrets:
            return {
                "Fn::Sub": secret_stand_in_arn(node["Ref"], "${AWS::Region}", "${AWS::AccountId}")
            }
        if isinstance(node, dict) and set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            text = node["Fn::Sub"]
            if any(f"{{{{resolve:secretsmanager:${{{s}}}" in text for s in secrets):
                return STAND_IN_PASSWORD
        return None

    return _transform(result, rewrite)


def ssm_typed_parameters(template: dict) -> dict[str, str]:
    """Each `AWS::SSM::Parameter::Value<...>` template parameter -> the SSM path it defaults to."""
    return {
        name: parameter["Default"]
        for name, parameter in template.get("Parameters", {}).items()
        if parameter.get("Type", "").startswith("AWS::SSM::Parameter::Value<")
        and "Default" in parameter
    }


def resolved_ssm_parameters(template: dict, values: Mapping[str, str]) -> dict:
    """An SSM-typed parameter (the AMI) -> a String parameter defaulting to the value
    moto's SSM answered for its path when the stand-ins were made.

    Moto gap: updating a stack re-resolves the parameter's previous value, which is
    already the resolved value (an AMI ID), as an SSM path, and answers HTTP 500. The
    writer region's stack is updated on a first deploy (bucket replication turned on
    once the other regions exist), so the tests need the update to work.
    """
    for name, value in values.items():
        parameter = template.get("Parameters", {}).get(name)
        if parameter is not None:
            parameter["Type"] = "String"
            parameter["Default"] = value
    return template


def replica_subnet_group_from_source(template: dict) -> dict:
    """A read replica's `DBSubnetGroupName` is left out (it keeps its source's group).

    Moto gap: moto copies the source instance into the replica's region and then looks
    the replica's subnet group up in the source's region, so a cross-region replica with
    a subnet group of its own region fails with DBSubnetGroupNotFoundFault. The replica
    is `SourceDBInstanceIdentifier` under `Fn::If` (the writer region's database is
    not a replica), so the group goes under the same condition.
    """
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        source = properties.get("SourceDBInstanceIdentifier")
        if resource.get("Type") != "AWS::RDS::DBInstance" or "DBSubnetGroupName" not in properties:
            continue
        if isinstance(source, dict) and set(source) == {"Fn::If"}:
            writer = source["Fn::If"][0]
            properties["DBSubnetGroupName"] = {
                "Fn::If": [writer, properties["DBSubnetGroupName"], {"Ref": "AWS::NoValue"}]
            }
        elif source is not None:
            del properties["DBSubnetGroupName"]
    return template


def retain_except_on_create_as_retain(template: dict) -> dict:
    """`DeletionPolicy: RetainExceptOnCreate` -> `Retain`.

    Moto gap: moto keeps a resource on `delete-stack` only if its policy is exactly
    `Retain`, and deletes one marked `RetainExceptOnCreate` (which AWS keeps). Moto never
    rolls a failed create back, so the "except on create" half has nothing to act on.
    """
    for resource in template["Resources"].values():
        if resource.get("DeletionPolicy") == "RetainExceptOnCreate":
            resource["DeletionPolicy"] = "Retain"
    return template


def reject_unsupported(template: dict) -> None:
    """Fail loudly on functions moto cannot evaluate and no rewrite above removed."""
    text = json.dumps(template)
    for function in ("Fn::Cidr", "Fn::GetAZs"):
        if f'"{function}"' in text:
            raise MotoGapError(
                f"the template uses {function}, which moto 5.2 cannot evaluate here; "
                "add a rewrite to tests/deploy/moto_shim.py"
            )


# --- what the rewrites need from moto ---------------------------------------------------


def acm_certificate_arns(template: dict) -> dict[str, str]:
    """Every ACM certificate ARN written literally in the template -> its region."""
    return {text: match.group(1) for text in _strings(template) if (match := _ACM_ARN.match(text))}


def request_certificate(aws: AwsCli, region: str) -> str:
    issued = aws.run_json(
        "acm", "request-certificate",
        "--domain-name", CERTIFICATE_DOMAIN,
        "--validation-method", "DNS",
        region=region,
    )  # fmt: skip
    return issued["CertificateArn"]


def parameter_groups(template: dict) -> dict[str, dict]:
    """The properties of each `AWS::RDS::DBParameterGroup`, by logical ID."""
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::RDS::DBParameterGroup"
    }


def create_parameter_group(aws: AwsCli, properties: dict, *, name: str, region: str) -> str:
    """A DB parameter group with the template resource's settings; returns its name."""
    aws.run(
        "rds", "create-db-parameter-group",
        "--db-parameter-group-name", name,
        "--db-parameter-group-family", properties["Family"],
        "--description", properties["Description"],
        region=region,
    )  # fmt: skip
    parameters = properties.get("Parameters", {})
    if parameters:
        aws.run(
            "rds", "modify-db-parameter-group",
            "--db-parameter-group-name", name,
            "--parameters", json.dumps([
                {"ParameterName": key, "ParameterValue": str(value), "ApplyMethod": "pending-reboot"}
                for key, value in parameters.items()
            ]),
            region=region,
        )  # fmt: skip
    return name


def _transform(node: Any, rewrite: Callable[[Any], Any]) -> Any:
    """Walk `node` depth-first; where `rewrite` returns non-None, that replaces the node."""
    replaced = rewrite(node)
    if replaced is not None:
        return replaced
    if isinstance(node, dict):
        return {key: _transform(value, rewrite) for key, value in node.items()}
    if isinstance(node, list):
        return [_transform(value, rewrite) for value in node]
    return node


def _strings(node: Any):
    """Every string value (not key) in `node`."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
