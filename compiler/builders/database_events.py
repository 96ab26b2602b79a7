"""The region's database events, sent to the region's alarm topic.

RDS reports what happens to an instance as events, not metrics: a Multi-AZ failover, a
failed instance, storage running out, maintenance it applies, a read replica that stops
replicating. An event subscription makes RDS publish those to SNS; without one they only
show in the console's event list, kept 14 days.

One subscription per regional stack, for that stack's `Database`: the writer where the
region writes, the cross-region read replica elsewhere (both the same resource, whose
template condition decides its role, see database), named by `Ref`: the identifier
the template gives it in that region.
"""

from __future__ import annotations

from troposphere import rds

from compiler import naming
from compiler.builders import Built, purpose
from compiler.builders.handles import DatabaseHandle, NotificationsHandle
from compiler.context import RegionContext
from compiler.spec import InfraSpec

SUBSCRIPTION_ID = "DatabaseEventSubscription"
SUBSCRIPTION_SUBJECT = "database-events"

# The `db-instance` categories that need someone: the instance stopped serving or came
# back (availability, failover, failure, recovery), will stop (low storage), changed
# under us (configuration change, maintenance, notification: patching and upgrades RDS
# schedules or applies), or a replica stopped following its writer (read replica).
# Left out, as noise that needs no one: backup (every day), creation, deletion and
# restoration (deploys, which the changes feed reports), and security patching, which
# maintenance and notification already announce.
EVENT_CATEGORIES = (
    "availability",
    "configuration change",
    "failover",
    "failure",
    "low storage",
    "maintenance",
    "notification",
    "read replica",
    "recovery",
)


def subscription_name(spec: InfraSpec) -> str:
    # RDS allows up to 255 characters; `<project>-<environment>-database-events` is at
    # most 20 + 1 + 20 + 16. The deploy roles may manage `es:<project>-<environment>-*`.
    return naming.resource_name(spec, SUBSCRIPTION_SUBJECT)


def build_database_events(
    spec: InfraSpec,
    ctx: RegionContext,
    database: DatabaseHandle,
    notifications: NotificationsHandle,
) -> Built[None]:
    subscription = purpose(
        rds.EventSubscription(
            SUBSCRIPTION_ID,
            SubscriptionName=subscription_name(spec),
            SnsTopicArn=notifications.alarm_topic_arn,
            SourceType="db-instance",
            SourceIds=[database.instance_id],
            EventCategories=list(EVENT_CATEGORIES),
            Enabled=True,
        ),
        "Sends the database's failovers, failures, low storage, maintenance and replica "
        "errors to the alarm topic",
    )
    if notifications.alarm_topic_policy_id:
        # RDS publishes as soon as the subscription exists; the topic lets it in only
        # once its policy does.
        subscription.DependsOn = [notifications.alarm_topic_policy_id]
    return Built([subscription], None)
