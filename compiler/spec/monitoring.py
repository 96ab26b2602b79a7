"""Spec model for each region's alarms and dashboard: thresholds with safe defaults.

Counts are per `period_seconds`; an alarm fires after `evaluation_periods` periods in a
row beyond its threshold, and notifies the region's alarm topic (see `notifications`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from compiler.spec.types import SPEC_MODEL_CONFIG

# PutMetricAlarm: Period x EvaluationPeriods may not exceed one day for periods under an
# hour, nor seven days otherwise.
ONE_DAY_SECONDS = 86_400
SEVEN_DAYS_SECONDS = 604_800


def percent(default: int, description: str):
    return Field(default, ge=1, le=100, description=description, examples=[default])


class InstanceAlarmsSpec(BaseModel):
    """The Auto Scaling group's instances."""

    model_config = SPEC_MODEL_CONFIG

    cpu_percent: int = percent(
        80, "Average CPU of the group; keep it above `compute.cpu_target_percent`."
    )
    memory_percent: int = percent(
        90, "Memory used on the busiest instance (CloudWatch agent metric)."
    )
    disk_percent: int = percent(
        85, "Root file system used on the fullest instance (CloudWatch agent metric)."
    )


class DatabaseAlarmsSpec(BaseModel):
    """The region's PostgreSQL instance."""

    model_config = SPEC_MODEL_CONFIG

    cpu_percent: int = percent(80, "Average CPU of the database instance.")
    connections: int = Field(
        200,
        ge=1,
        le=100_000,
        description="Open connections; RDS caps them by instance memory.",
        examples=[200],
    )
    read_iops: int = Field(
        2400,
        ge=1,
        le=256_000,
        description="Read operations per second (gp3 baseline: 3,000).",
        examples=[2400],
    )
    write_iops: int = Field(
        2400,
        ge=1,
        le=256_000,
        description="Write operations per second (gp3 baseline: 3,000).",
        examples=[2400],
    )
    free_storage_gb: int = Field(
        5,
        ge=1,
        le=65_536,
        description="Free storage (GiB) to alarm below; less than `database.allocated_storage_gb`.",
        examples=[5],
    )


class LoadBalancerAlarmsSpec(BaseModel):
    """The region's Application Load Balancer and its target group."""

    model_config = SPEC_MODEL_CONFIG

    elb_5xx_count: int = Field(
        10,
        ge=1,
        le=1_000_000,
        description="5xx responses made by the ALB itself, per period.",
        examples=[10],
    )
    target_5xx_count: int = Field(
        10,
        ge=1,
        le=1_000_000,
        description="5xx responses from the instances, per period.",
        examples=[10],
    )
    response_time_p95_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="95th percentile of the instances' response time.",
        examples=[1.0],
    )
    unhealthy_hosts: int = Field(
        1,
        ge=1,
        le=100,
        description="Alarm at this many targets failing health checks.",
        examples=[1],
    )


class NatGatewayAlarmsSpec(BaseModel):
    """Each NAT gateway of the region."""

    model_config = SPEC_MODEL_CONFIG

    dropped_packets: int = Field(
        100,
        ge=1,
        le=1_000_000_000,
        description="Packets a NAT gateway dropped, per period.",
        examples=[100],
    )
    port_allocation_errors: int = Field(
        1,
        ge=1,
        le=1_000_000,
        description="Connections refused for lack of source ports, per period.",
        examples=[1],
    )


class FlowLogAlarmsSpec(BaseModel):
    """The VPC flow logs."""

    model_config = SPEC_MODEL_CONFIG

    rejected_flows: int = Field(
        1000,
        ge=1,
        le=10_000_000,
        description="Flow log records of REJECTed traffic, per period (scanners cause some).",
        examples=[1000],
    )


class MonitoringSpec(BaseModel):
    """CloudWatch alarms and one dashboard per region; alarms go to `notifications`."""

    model_config = SPEC_MODEL_CONFIG

    period_seconds: Literal[60, 300, 900, 3600] = Field(
        60, description="Length of one evaluation period of every alarm.", examples=[60]
    )
    evaluation_periods: int = Field(
        5,
        ge=1,
        le=1440,
        description="Periods in a row beyond the threshold before an alarm fires.",
        examples=[5],
    )
    instances: InstanceAlarmsSpec = Field(
        default_factory=InstanceAlarmsSpec,
        description="Web instance alarms.",
        examples=[{"cpu_percent": 80, "memory_percent": 90, "disk_percent": 85}],
    )
    database: DatabaseAlarmsSpec = Field(
        default_factory=DatabaseAlarmsSpec,
        description="Database alarms.",
        examples=[{"cpu_percent": 80, "connections": 200}],
    )
    load_balancer: LoadBalancerAlarmsSpec = Field(
        default_factory=LoadBalancerAlarmsSpec,
        description="Load balancer alarms.",
        examples=[{"target_5xx_count": 10, "response_time_p95_seconds": 1.0}],
    )
    nat_gateways: NatGatewayAlarmsSpec = Field(
        default_factory=NatGatewayAlarmsSpec,
        description="NAT gateway alarms.",
        examples=[{"dropped_packets": 100}],
    )
    flow_logs: FlowLogAlarmsSpec = Field(
        default_factory=FlowLogAlarmsSpec,
        description="VPC flow log alarms.",
        examples=[{"rejected_flows": 1000}],
    )
