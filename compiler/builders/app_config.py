"""The instances' runtime configuration: SSM parameters under `/<project>/<environment>/`,
and the instance role's right to read them and the database secret, and nothing more.

Nothing secret goes into a template: the parameters hold where things are (database host,
port and name, the secret's ARN, bucket names, the region, whether the database is the
writer), and the password stays in the database's Secrets Manager secret (see database).
The instances learn the path from the line the compiler adds to their user data
(`INFRA_PARAMETER_PATH`, see builders/compute.py) and read the region from the instance
metadata, so the same user data serves every region.
"""

from __future__ import annotations

from troposphere import Ref, Sub, iam, ssm

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import (
    AppConfigHandle,
    ComputeHandle,
    DatabaseHandle,
    Reference,
    StorageHandle,
)
from compiler.context import RegionContext
from compiler.spec import InfraSpec


def configuration(
    spec: InfraSpec, database: DatabaseHandle, storage: StorageHandle
) -> dict[str, tuple[str | Reference, str]]:
    """Parameter name under the path -> (value, description)."""
    values: dict[str, tuple[str | Reference, str]] = {
        "region": (Ref("AWS::Region"), "The region these instances run in"),
        "app/port": (str(spec.compute.app_port), "Port the application listens on"),
        "database/host": (database.endpoint_address, "Host name of the PostgreSQL database"),
        "database/port": (database.endpoint_port, "Port of the PostgreSQL database (TLS only)"),
        "database/name": (database.name, "Name of the application's database"),
        "database/secret-arn": (
            database.secret_arn,
            "Secrets Manager secret with the database user and password",
        ),
        "database/role": (
            database.role,
            "writer: this region's database takes writes; replica: it is read-only",
        ),
    }
    for bucket in storage.buckets:
        values[f"buckets/{bucket.short_name}"] = (
            bucket.name,
            f"S3 name of the {bucket.short_name} bucket",
        )
    return values


def parameter_arn(path: str) -> Sub:
    # A parameter's ARN is `parameter` followed by its name, which starts with '/'.
    return Sub(f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{path}")


def secrets_manager_service() -> Sub:
    """Secrets Manager's name as KMS sees it (kms:ViaService) in this region."""
    return Sub("secretsmanager.${AWS::Region}.amazonaws.com")


def instance_read_policy(path: str, database: DatabaseHandle) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # GetParametersByPath is authorised on the path itself, the others on
                # each parameter beneath it.
                "Sid": "ReadOwnConfiguration",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
                "Resource": [parameter_arn(path.rstrip("/")), parameter_arn(f"{path}*")],
            },
            {
                "Sid": "ReadTheDatabaseSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": database.secret_policy_arn or database.secret_arn,
            },
            {
                # Secrets Manager decrypts the secret with the data key on the caller's
                # behalf; the key is usable for this secret only, and only that way. The
                # secret is always in this region (a replica region's is its copy of the
                # writer's, encrypted with this region's key).
                "Sid": "DecryptTheSecretThroughSecretsManager",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": database.secret_key_arn,
                "Condition": secret_decrypt_condition(database),
            },
        ],
    }


def secret_decrypt_condition(database: DatabaseHandle) -> dict:
    """Through Secrets Manager in this region, for the database's secret only."""
    context = database.secret_context_arns or database.secret_arn
    if database.secret_context_is_pattern:
        # The ARN ends in a suffix no stack knows (see database.named_master_secret).
        return {
            "StringEquals": {"kms:ViaService": secrets_manager_service()},
            "StringLike": {"kms:EncryptionContext:SecretARN": context},
        }
    return {
        "StringEquals": {
            "kms:ViaService": secrets_manager_service(),
            "kms:EncryptionContext:SecretARN": context,
        }
    }


def build_app_config(
    spec: InfraSpec,
    ctx: RegionContext,
    compute: ComputeHandle,
    database: DatabaseHandle,
    storage: StorageHandle,
) -> Built[AppConfigHandle]:
    path = naming.parameter_path(spec)
    resources = []
    for key, (value, description) in configuration(spec, database, storage).items():
        resources.append(
            purpose(
                ssm.Parameter(
                    naming.logical_id("config", key),
                    Name=f"{path}{key}",
                    Type="String",
                    Value=value,
                    Description=description,
                ),
                "Runtime configuration the instances read at boot (no secret in it)",
            )
        )
    policy = purpose(
        iam.PolicyType(
            "InstanceConfigurationPolicy",
            PolicyName="read-configuration-and-database-secret",
            PolicyDocument=instance_read_policy(path, database),
            Roles=[compute.instance_role_name],
        ),
        f"Lets the instances read {path}* and the database secret, nothing else",
    )
    return Built([*resources, policy], AppConfigHandle(path))
