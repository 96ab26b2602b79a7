"""RDS PostgreSQL in the isolated subnets: Multi-AZ, encrypted, TLS-only, no password in sight."""

from __future__ import annotations

from troposphere import GetAtt, Output, Ref, Sub, iam, rds

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import DatabaseHandle, KeyHandle, NetworkHandle, SecurityGroupsHandle
from compiler.builders.trust import service_trust_policy
from compiler.context import RegionContext
from compiler.spec import InfraSpec


def parameter_group_family(engine_version: str) -> str:
    return f"postgres{engine_version.split('.')[0]}"


# AWS-managed policy for the RDS enhanced monitoring agent: it may only write the OS
# metrics to the RDSOSMetrics log group.
ENHANCED_MONITORING_POLICY = (
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
)
MONITORING_INTERVAL_SECONDS = 60
# The database's role for the application (`DatabaseHandle.role`); a region whose
# database is a read replica of another region's says "replica".
WRITER = "writer"


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
    instance = purpose(
        rds.DBInstance(
            "Database",
            Engine="postgres",
            EngineVersion=db.engine_version,
            DBInstanceClass=db.instance_class,
            DBName=db.database_name,
            AllocatedStorage=str(db.allocated_storage_gb),
            MaxAllocatedStorage=db.max_allocated_storage_gb,
            StorageType="gp3",
            StorageEncrypted=True,
            KmsKeyId=key.key_arn,
            MultiAZ=db.multi_az,
            BackupRetentionPeriod=db.backup_retention_days,
            PreferredBackupWindow="03:00-04:00",
            PreferredMaintenanceWindow="sun:04:30-sun:05:30",
            CopyTagsToSnapshot=True,
            DeletionProtection=True,
            AutoMinorVersionUpgrade=True,
            # RDS generates the master password and rotates it in Secrets Manager, so
            # no secret ever appears in the template or its parameters.
            MasterUsername=db.master_username,
            ManageMasterUserPassword=True,
            MasterUserSecret=rds.MasterUserSecret(KmsKeyId=key.key_arn),
            EnableIAMDatabaseAuthentication=True,
            PubliclyAccessible=False,
            DBSubnetGroupName=Ref(subnet_group),
            DBParameterGroupName=Ref(parameters),
            VPCSecurityGroups=[security_groups.database],
            EnableCloudwatchLogsExports=["postgresql", "upgrade"],
            # OS metrics every minute, and query-level load kept 7 days (the free tier),
            # encrypted with the data key since it holds SQL text.
            MonitoringInterval=MONITORING_INTERVAL_SECONDS,
            MonitoringRoleArn=GetAtt(monitoring, "Arn"),
            EnablePerformanceInsights=True,
            PerformanceInsightsKMSKeyId=key.key_arn,
            PerformanceInsightsRetentionPeriod=7,
        ),
        "The application's PostgreSQL database",
    )
    # Deleting or replacing the stack's database keeps a final snapshot.
    instance.DeletionPolicy = "Snapshot"
    instance.UpdateReplacePolicy = "Snapshot"
    secret_arn = GetAtt(instance, "MasterUserSecret.SecretArn")
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
            naming.logical_id("database", "secret", "arn"),
            Description="Secrets Manager secret with the master user's credentials (RDS rotates it)",
            Value=secret_arn,
        ),
    ]
    handle = DatabaseHandle(
        instance_id=Ref(instance),
        endpoint_address=GetAtt(instance, "Endpoint.Address"),
        endpoint_port=GetAtt(instance, "Endpoint.Port"),
        name=db.database_name,
        secret_arn=secret_arn,
        secret_key_arn=key.key_arn,
        role=WRITER,
    )
    return Built([subnet_group, parameters, monitoring, instance], handle, outputs)
