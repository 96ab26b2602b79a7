"""The floor: the same templates built with bare troposphere, nothing else.

Reads the templates `infra compile` wrote, and has troposphere build every resource
again as a typed object of its resource class (`from_dict`, with troposphere's own
validation), then write the template out. What remains is the cost of troposphere
itself: interpreter start-up, import, object construction and JSON output. No spec, no
pydantic, no builders. The few resources troposphere's `from_dict` cannot rebuild (a
validator that rejects plain dicts, e.g. WAFv2 statements) are added as untyped objects.

    python benchmarks/floor_troposphere.py SOURCE_DIR OUT_DIR
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from troposphere import AWSObject, Template

# The troposphere modules of the services our templates use; importing only these is
# what a hand-written troposphere program would do.
MODULES = (
    "autoscaling", "awslambda", "certificatemanager", "chatbot", "cloudtrail", "cloudwatch",
    "ec2", "elasticloadbalancingv2", "events", "iam", "kms", "logs", "rds", "route53", "s3",
    "secretsmanager", "sns", "sqs", "ssm", "wafv2",
)  # fmt: skip


def resource_classes() -> dict[str, type]:
    classes = {}
    for name in MODULES:
        module = importlib.import_module(f"troposphere.{name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, AWSObject)
                and getattr(value, "resource_type", None)
            ):
                classes[value.resource_type] = value
    return classes


class UntypedResource(AWSObject):
    props: dict = {}

    def __init__(self, title, resource_type, properties):
        self.resource_type = resource_type
        super().__init__(title)
        self.properties.update(properties)


def rebuild(data: dict) -> Template:
    template = Template(Description=data.get("Description"))
    classes = resource_classes()
    for title, body in data.get("Resources", {}).items():
        try:
            resource = classes[body["Type"]].from_dict(title, body.get("Properties", {}))
        except (TypeError, ValueError, KeyError, AttributeError):  # see the module docstring
            resource = UntypedResource(title, body["Type"], body.get("Properties", {}))
        for attribute in (
            "DependsOn",
            "Metadata",
            "DeletionPolicy",
            "UpdateReplacePolicy",
            "Condition",
        ):
            if attribute in body:
                resource.resource[attribute] = body[attribute]
        template.add_resource(resource)
    for name, body in data.get("Parameters", {}).items():
        template.parameters[name] = body
    for name, body in data.get("Outputs", {}).items():
        template.outputs[name] = body
    return template


def main(source: Path, out: Path) -> None:
    for path in sorted(source.rglob("*.json")):
        if path.name == "manifest.json":
            continue
        template = rebuild(json.loads(path.read_text()))
        target = out / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(template.to_dict(), indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
