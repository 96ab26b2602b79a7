"""RDS PostgreSQL in the isolated subnets: Multi-AZ, encrypted, TLS-only, no password in sight."""

from __future__ import annotations

import json
from typing import NamedTuple

from troposphere import (
    GetAtt,
    If,
    Join,
    NoValue,
    Output,
    Parameter,
    Ref,
    Select,
    Split,
    Sub,
    iam,
    logs,
    rds,
    secretsmanager,
)

from compiler import naming
from compiler.builders import RETAIN_EXCEPT_ON_CREATE, Built, purpose, skip_check
from compiler.builders.bucket_replication import (
    REPLICATION_CONDITION,
    replication_conditions,
    replication_parameter,
)
from compiler.builders.handles import (
    DatabaseHandle,
    KeyHandle,
    NetworkHandle,
    Reference,
    SecurityGroupsHandle,
)
from compiler.builders.trust import service_trust_policy
from compiler.context import (
    DATABASE_ROLES,
    REPLICA_CONDITION,
    WRITER_CONDITION,
    RegionContext,
    replica_regions,
    replicated_bucket_names,
    replicates_database,
)
from compiler.spec import InfraSpec
from compiler.spec.windows import DATABASE_MAINTENANCE_WINDOW


def parameter_group_family(engine_version: str) -> str:
    return f"postgres{engine_version.split('.')[0]}"


# AWS-managed policy for the RDS enhanced monitoring agent: it may only write the OS
# metrics to the RDSOSMetrics log group.
ENHANCED_MONITORING_POLICY = (
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
)
MONITORING_INTERVAL_SECONDS = 60

# With replicas, the writer's master password is a secret of the stack's (see
# `master_password_secret`): RDS creates no read replica of an instance whose master
# password it manages in Secrets Manager.
MASTER_SECRET_ID = "DatabaseMasterSecret"

# A replica region's stack parameter: the writer's master secret, which only the writer's
# stack can name (CloudFormation picks the secret's name, and Secrets Manager adds a random
# suffix to its ARN); the region's copy of it has the same ARN but for the region.
# deploy.sh fills it from the writer stack's DatabaseSecretArn output. Not in a
# service-managed StackSet, whose one parameter value would serve every account: the
# secret has a fixed name there (see named_master_secret).
WRITER_SECRET_PARAMETER = "WriterDatabaseSecretArn"
SECRET_ARN_OUTPUT = naming.logical_id("database", "secret", "arn")


def writer_secret_parameter() -> Parameter:
    return Parameter(
        WRITER_SECRET_PARAMETER,
        Type="String",
        # No default: deploy.sh passes it to every stack, empty in the writer region, which
        # names its own secret (a replica region given an empty one names a copy without
        # a name, which its instances cannot read). A default would be what cfn-lint
        # checks the replica's IAM resource against, and no ARN can be a safe default.
        AllowedPattern=r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)?$",
        Description="ARN of the writer database's master secret (the writer region's "
        "DatabaseSecretArn output): a replica region's instances read this region's copy "
        "of it; the writer region ignores it (deploy.sh sets it)",
    )


def monitoring_role() -> iam.Role:
    return purpose(
        iam.Role(
            "DatabaseMonitoringRole",
            AssumeRolePolicyDocument=service_trust_policy(
                "monitoring.rds.amazonaws.com", this_account_only=True
            ),
            ManagedPolicyArns=[Sub(ENHANCED_MONITORING_POLICY)],
        ),
        "Lets RDS enhanced monitoring publish the database host's OS metrics",
    )


def build_database(
    spec: InfraSpec,
    ctx: RegionContext,
    network: NetworkHandle,
    security_groups: SecurityGroupsHandle,
    key: KeyHandle,
) -> Built[DatabaseHandle]:
    db = spec.database
    subnet_group = purpose(
        rds.DBSubnetGroup(
            "DatabaseSubnetGroup",
            DBSubnetGroupDescription="Isolated subnets: no route to or from the internet",
            SubnetIds=network.database_subnet_ids,
        ),
        "Places the database in the isolated tier",
    )
    parameters = purpose(
        rds.DBParameterGroup(
            "DatabaseParameterGroup",
            Description="PostgreSQL settings: TLS required for every connection",
            Family=parameter_group_family(db.engine_version),
            Parameters={"rds.force_ssl": "1", "log_connections": "1"},
        ),
        "Forces TLS and logs connections",
    )
    monitoring = monitoring_role()
    replicated = replicates_database(spec)
    identifiers = instance_identifiers(spec, replicated)
    log_groups = database_log_groups(spec, identifiers, key)
    instance = purpose(
        rds.DBInstance(
            "Database",
            DBInstanceClass=db.instance_class,
            AllocatedStorage=str(db.allocated_storage_gb),
            MaxAllocatedStorage=db.max_allocated_storage_gb,
            StorageType="gp3",
            # Each region's own key: KMS keys never leave their region, so a cross-region
            # replica must be given one (RDS re-encrypts the replicated data with it).
            KmsKeyId=key.key_arn,
            MultiAZ=db.multi_az,
            # Never during the patch window (checked in spec/consistency.py).
            PreferredMaintenanceWindow=DATABASE_MAINTENANCE_WINDOW,
            CopyTagsToSnapshot=True,
            DeletionProtection=True,
            AutoMinorVersionUpgrade=True,
            EnableIAMDatabaseAuthentication=True,
            PubliclyAccessible=False,
            DBSubnetGroupName=Ref(subnet_group),
            DBParameterGroupName=Ref(parameters),
            VPCSecurityGroups=[security_groups.database],
            DBInstanceIdentifier=by_role(*identifiers),
            # Into the log groups below, which exist before RDS first writes.
            EnableCloudwatchLogsExports=list(naming.DATABASE_LOG_TYPES),
            # OS metrics every minute, and query-level load kept 7 days (the free tier),
            # encrypted with the data key since it holds SQL text.
            MonitoringInterval=MONITORING_INTERVAL_SECONDS,
            MonitoringRoleArn=GetAtt(monitoring, "Arn"),
            EnablePerformanceInsights=True,
            PerformanceInsightsKMSKeyId=key.key_arn,
            PerformanceInsightsRetentionPeriod=7,
            **(
                replicated_properties(spec, ctx, key)
                if replicated
                else writer_properties(spec, key)
            ),
        ),
        "The application's PostgreSQL database"
        + (
            ": the writer in the spec's first region, a read replica of it elsewhere"
            if replicated
            else ""
        ),
    )
    if replicated:
        skip_check(
            instance,
            "CKV_AWS_16",
            "Encrypted in every region: the writer sets StorageEncrypted with the region's "
            "key; a replica must not set it (CloudFormation refuses it) and is encrypted "
            "with the KmsKeyId it is given, which a cross-region replica requires.",
        )
        # troposphere's own check reads the Fn::If branches of both roles as one replica
        # that sets writer properties (and still refuses MultiAZ on a replica, which RDS
        # has long allowed); cfn-lint checks the template per condition instead.
        instance.no_validation()
    # RDS makes a missing log group itself, without retention, key or tags: ours first.
    instance.DependsOn = [group.title for group in log_groups]
    resources = [subnet_group, parameters, monitoring, *log_groups]
    if replicated:
        resources.append(master_password_secret(spec, ctx, key))
    # Deleting or replacing the stack's database keeps a final snapshot.
    instance.DeletionPolicy = "Snapshot"
    instance.UpdateReplacePolicy = "Snapshot"
    secret = master_secret(spec, ctx, instance, key, replicated)
    outputs = [
        Output(
            naming.logical_id("database", "endpoint"),
            Description="Host name of the PostgreSQL database",
            Value=GetAtt(instance, "Endpoint.Address"),
        ),
        Output(
            naming.logical_id("database", "port"),
            Description="Port of the PostgreSQL database (TLS required)",
            Value=GetAtt(instance, "Endpoint.Port"),
        ),
        Output(
            SECRET_ARN_OUTPUT,
            Description="Secrets Manager secret with the master user's credentials"
            + (
                ": the writer's, or in a replica region its copy there (not rotated automatically)"
                if replicated
                else " (RDS rotates it)"
            ),
            Value=secret.arn,
        ),
    ]
    handle = DatabaseHandle(
        instance_id=Ref(instance),
        endpoint_address=GetAtt(instance, "Endpoint.Address"),
        endpoint_port=GetAtt(instance, "Endpoint.Port"),
        name=db.database_name,
        secret_arn=secret.arn,
        secret_key_arn=secret.key_arn,
        secret_context_arns=secret.context_arns,
        secret_policy_arn=secret.policy_arn,
        secret_context_is_pattern=secret.context_is_pattern,
        role=ctx.database_role() if replicated else DATABASE_ROLES[0],
        replica_condition=REPLICA_CONDITION if replicated else None,
    )
    parameters, conditions = [], {}
    if replicated:
        if not spec.stackset.service_managed:
            parameters.append(writer_secret_parameter())
        conditions.update(ctx.writer_conditions())
        conditions.update(replication_conditions())
        if not replicated_bucket_names(spec):
            # The switch that turns on the secret's copies is the buckets' (storage adds
            # it when any bucket replicates): one switch, one second pass of deploy.sh.
            parameters.append(replication_parameter())
    return Built(
        [*resources, instance], handle, outputs, parameters=parameters, conditions=conditions
    )


class MasterSecret(NamedTuple):
    """The master user's secret as this region's instances read it (see `master_secret`)."""

    arn: Reference  # what they pass as SecretId: an ARN, or a partial ARN (no suffix)
    key_arn: Reference  # the KMS key it is encrypted with
    # The ARNs Secrets Manager may name in the KMS encryption context, or None: `arn` alone.
    context_arns: Reference | None = None
    # What IAM may grant GetSecretValue on, when not `arn` (a partial ARN names no resource).
    policy_arn: Reference | None = None
    context_is_pattern: bool = False  # context_arns holds `?` wildcards (StringLike)


def master_secret(
    spec: InfraSpec, ctx: RegionContext, instance: rds.DBInstance, key: KeyHandle, replicated: bool
) -> MasterSecret:
    """The master user's secret, as this region's instances read it.

    A read replica has no master secret of its own (RDS refuses ManageMasterUserPassword
    on one): its users and passwords are the writer's, replicated data. The writer's
    secret is replicated by Secrets Manager to every other region (`ReplicaRegions`, see
    `master_password_secret`), each copy encrypted with that region's data key, so a
    replica region's instances read their own region's copy: it answers while the writer
    region is down, and after `deploy.sh promote` it still opens the promoted database
    (whose password is the old writer's).
    """
    if not replicated:
        return MasterSecret(GetAtt(instance, "MasterUserSecret.SecretArn"), key.key_arn)
    own = Ref(MASTER_SECRET_ID)  # a secret's Ref is its ARN
    if spec.stackset.service_managed:
        return named_master_secret(spec, ctx, own, key)
    copy = local_copy_arn(Ref(WRITER_SECRET_PARAMETER))
    return MasterSecret(
        If(WRITER_CONDITION, own, copy),
        key.key_arn,
        # Secrets Manager puts the secret's ARN in the encryption context; AWS does not say
        # whether a replica's names the replica or its primary, and the two name the same
        # secret: either, and nothing else.
        If(WRITER_CONDITION, [own], [copy, Ref(WRITER_SECRET_PARAMETER)]),
    )


def named_master_secret(
    spec: InfraSpec, ctx: RegionContext, own: Ref, key: KeyHandle
) -> MasterSecret:
    """A service-managed StackSet cannot hand each member account the writer's secret ARN
    (one parameter value serves every account), so there the secret has a fixed name
    (naming.database_master_secret_name) and a replica region names its copy by it: the
    copy has the primary's name, in this region. Its ARN ends in a random suffix no stack
    knows, so the instances get the partial ARN (no suffix), which GetSecretValue accepts
    and which keeps the region in its fourth field; IAM and the KMS encryption context see
    the full ARN, matched by `<name>-??????`."""
    name = naming.database_master_secret_name(spec)
    partial = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:" + name
    here = Sub(partial + "-??????")
    writers = Sub(
        "arn:${AWS::Partition}:secretsmanager:${Region}:${AWS::AccountId}:secret:"
        + name
        + "-??????",
        Region=ctx.writer_region(),
    )
    return MasterSecret(
        If(WRITER_CONDITION, own, Sub(partial)),
        key.key_arn,
        # The copy's ARN or its primary's (see master_secret), each by its pattern.
        If(WRITER_CONDITION, [own], [here, writers]),
        policy_arn=If(WRITER_CONDITION, own, here),
        context_is_pattern=True,
    )


def local_copy_arn(writer_secret_arn: Ref) -> Sub:
    """This region's replica of the writer's secret: its ARN is the primary's with this
    region in it (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX`). The name is
    what follows `:secret:`; appending one more `:secret:` before splitting keeps the
    `Fn::Select` in range when the parameter is empty, as the writer region's is (the
    branch is not taken there, but CloudFormation does not promise to skip it)."""
    name = Select(1, Split(":secret:", Join("", [writer_secret_arn, ":secret:"])))
    return Sub(
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${Name}",
        Name=name,
    )


def secret_replica_regions(spec: InfraSpec, ctx: RegionContext) -> If:
    """Where Secrets Manager keeps copies of the master secret: every other region, each
    encrypted with that region's data key (named by its alias, the key being another
    stack's). Only once those stacks exist (the bucket-replication switch, see
    bucket_replication): the alias is theirs, and a replica secret needs its key."""
    copies = [
        secretsmanager.ReplicaRegion(
            Region=ctx.replica_region(index), KmsKeyId=naming.data_key_alias(spec)
        )
        for index in range(len(replica_regions(spec)))
    ]
    return If(REPLICATION_CONDITION, copies, NoValue)


def master_password_secret(
    spec: InfraSpec, ctx: RegionContext, key: KeyHandle
) -> secretsmanager.Secret:
    """The writer's master user and a password Secrets Manager generates, for a writer that
    has read replicas: RDS refuses to create a read replica of an instance whose master
    password it manages ("Creating a read replica when the source DB manages credentials
    with Secrets Manager" is unsupported for every engine but SQL Server), so this one is
    the stack's, given to RDS by a dynamic reference (never in the template or its
    parameters) and encrypted with the region's data key. Same shape as RDS's own secret:
    `username` and `password`. Not rotated automatically (RDS rotated its own). Copied
    to every other region (`secret_replica_regions`)."""
    secret = purpose(
        secretsmanager.Secret(
            MASTER_SECRET_ID,
            Description=f"{naming.name_prefix(spec)}: master user of the writer database",
            KmsKeyId=key.key_arn,
            GenerateSecretString=secretsmanager.GenerateSecretString(
                SecretStringTemplate=json.dumps({"username": spec.database.master_username}),
                GenerateStringKey="password",
                PasswordLength=32,
                # RDS refuses '/', '"', '@' and spaces in a master password; letters and
                # digits alone keep it safe in connection strings and shells too.
                ExcludePunctuation=True,
            ),
            ReplicaRegions=secret_replica_regions(spec, ctx),
            # Named only where replica regions must name their copy without a parameter
            # (see named_master_secret); elsewhere CloudFormation names it, as before.
            **(
                {"Name": naming.database_master_secret_name(spec)}
                if spec.stackset.service_managed
                else {}
            ),
        ),
        "The writer database's master user and password (RDS does not manage them: it "
        "creates no read replica of an instance whose password it manages)",
    )
    secret.Condition = WRITER_CONDITION
    # Kept when the stack stops creating it (its region no longer the writer's after a
    # failover, or the stack deleted): the database it opens outlives it (deletion
    # protection, a final snapshot), and so does the need to log in to reconcile it.
    secret.DeletionPolicy = RETAIN_EXCEPT_ON_CREATE
    secret.UpdateReplacePolicy = "Retain"
    skip_check(
        secret,
        "CKV2_AWS_57",
        "Not rotated automatically yet: rotation needs a rotation function (AWS's hosted one "
        "comes through a template transform), and RDS's own rotating secret cannot be used "
        "by a database with read replicas.",
    )
    return secret


def master_password_reference() -> Sub:
    # Resolved by CloudFormation when it creates or updates the database.
    return Sub("{{resolve:secretsmanager:${" + MASTER_SECRET_ID + "}:SecretString:password}}")


def writer_properties(spec: InfraSpec, key: KeyHandle, own_secret: bool = False) -> dict:
    """What only a database created empty (the writer) is given: a replica inherits the
    engine, name, master user and encryption from its source, and CloudFormation refuses
    them on a replica (MasterUsername, StorageEncrypted, BackupRetentionPeriod, DBName).
    `own_secret`: the master password is the stack's secret (a writer with replicas)."""
    db = spec.database
    if own_secret:
        password = {"MasterUserPassword": master_password_reference()}
    else:
        password = {
            # RDS generates the master password and rotates it in Secrets Manager, so no
            # secret ever appears in the template or its parameters.
            "ManageMasterUserPassword": True,
            "MasterUserSecret": rds.MasterUserSecret(KmsKeyId=key.key_arn),
        }
    return {
        "Engine": "postgres",
        "EngineVersion": db.engine_version,
        "DBName": db.database_name,
        "StorageEncrypted": True,
        "BackupRetentionPeriod": db.backup_retention_days,
        "PreferredBackupWindow": "03:00-04:00",
        "MasterUsername": db.master_username,
        **password,
    }


# Set when RDS creates an instance and never changed by an update (CloudFormation
# `createOnlyProperties`): a writer created empty has these, a replica has none of them.
_CREATE_ONLY_WRITER_PROPERTIES = (
    "Engine",
    "EngineVersion",
    "DBName",
    "StorageEncrypted",
    "MasterUsername",
)


def replicated_properties(spec: InfraSpec, ctx: RegionContext, key: KeyHandle) -> dict:
    """The writer's properties in the writer region, the replica's elsewhere: one resource
    whose region decides (the StackSet template serves both).

    The writer has a fixed identifier, so that a replica names it by ARN (see
    `instance_identifiers`). A writer that is a promoted replica (database.promoted) keeps
    the shape it was created with: the identifier it had as a replica, its old
    SourceRegion, none of the create-only writer properties; anything else would make
    CloudFormation replace it with an empty database.

    A replica's credentials are the writer's: its users and passwords are replicated
    data. The master secret is the writer stack's, copied to the other regions (see
    `master_secret`). A promoted writer gets the secret of its new stack: the next deploy
    sets its password from it."""
    promoted = spec.database.promoted
    writer = writer_properties(spec, key, own_secret=True)
    if promoted:
        writer = {k: v for k, v in writer.items() if k not in _CREATE_ONLY_WRITER_PROPERTIES}
    properties = {name: If(WRITER_CONDITION, value, NoValue) for name, value in writer.items()}
    source = Sub(
        "arn:${AWS::Partition}:rds:${Region}:${AWS::AccountId}:db:"
        + naming.database_identifier(spec),
        Region=ctx.writer_region(),
    )
    properties.update(
        # Cross-region: the source by ARN, and its region.
        SourceDBInstanceIdentifier=If(WRITER_CONDITION, NoValue, source),
        SourceRegion=If(
            WRITER_CONDITION, ctx.promoted_from() if promoted else NoValue, ctx.writer_region()
        ),
    )
    return properties


def instance_identifiers(spec: InfraSpec, replicated: bool) -> tuple[str, str | None]:
    """(the writer's, a replica's or None) RDS identifier. Every region's instance has a
    fixed one, so that its log groups (named after it) can be made before it. Without
    replicas each region's own writer has the same one (identifiers are unique per
    region); with replicas, the replicas have another, which changes with the writer's
    (naming.replica_database_identifier). A promoted writer's is the one it had as a
    replica: unchanged, so not replaced."""
    writer = naming.database_identifier(spec)
    return writer, naming.replica_database_identifier(spec) if replicated else None


def by_role(writer: str, replica: str | None) -> str | If:
    """`writer` in the writer region, `replica` elsewhere; `writer` alone without replicas."""
    return writer if replica is None else If(WRITER_CONDITION, writer, replica)


def database_log_groups(
    spec: InfraSpec, identifiers: tuple[str, str | None], key: KeyHandle
) -> list[logs.LogGroup]:
    """The log group of each exported log type, named as RDS names it, with the spec's
    retention and the region's data key (whose policy lets CloudWatch Logs use it for any
    log group of the account in the region)."""
    groups = []
    for log_type in naming.DATABASE_LOG_TYPES:
        names = [
            naming.database_log_group_name(identifier, log_type) if identifier else None
            for identifier in identifiers
        ]
        group = purpose(
            logs.LogGroup(
                naming.logical_id("database", log_type, "log", "group"),
                LogGroupName=by_role(*names),
                RetentionInDays=spec.database.log_retention_days,
                KmsKeyId=key.key_arn,
            ),
            f"The database's exported {log_type} log, encrypted with the data key",
        )
        group.DeletionPolicy = RETAIN_EXCEPT_ON_CREATE  # audit evidence outlives the stack
        group.UpdateReplacePolicy = "Retain"
        groups.append(group)
    return groups
