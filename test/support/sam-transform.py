#!/usr/bin/env python3
"""Transforms a SAM template with the real aws-sam-translator and prints it as JSON, with
parameters, pseudo parameters, conditions, Fn::If/Sub/Join/Split/Select, Fn::GetAtt and
Fn::ImportValue resolved as far as an IAM evaluation needs (roles and their policies).

usage: sam-transform.py TEMPLATE '{"parameters": {...}, "exports": {...}, "region": ..., "account": ...}'

Why resolve here: CloudFormation resolves intrinsics only at deploy time; an evaluator needs the
policies as IAM sees them. Values it cannot know (physical ids of resources that are not named)
become the logical id, and anything left unresolved is printed as {"Unresolved": ...} so the
caller fails loudly instead of evaluating a policy that is not the deployed one.
"""
import json
import os
import re
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The templates attach no AWS managed policy by name: every function names its own role."""

    def load(self):
        return {}


def main():
    path, options = sys.argv[1], json.loads(sys.argv[2])
    with open(path, encoding="utf-8") as handle:
        template = yaml_parse(handle.read())
    # sam build/package would upload local code; the translator only accepts S3 locations.
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = "s3://bucket/code.zip"
        if resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["DefinitionUri"] = "s3://bucket/definition.json"
    for role, sid in options.get("dropStatements", []):
        drop_statement(template, role, sid)
    parameters = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
    parameters.update(options.get("parameters", {}))
    # The translator reads the region for its own ARNs from the environment (as boto does).
    os.environ["AWS_DEFAULT_REGION"] = options.get("region", "us-east-1")
    transformed = transform(template, dict(parameters), NoManagedPolicies())
    print(json.dumps(Resolver(transformed, parameters, options).resolved(), indent=1))


def drop_statement(template, role, sid):
    """Removes the statement `sid` of `role` from the template as written (also inside an Fn::If), before the
    transform: the test that shows the evaluation fails without it edits the template, not the evaluator's input."""

    def has_sid(statement):
        if isinstance(statement, dict) and "Fn::If" in statement:
            return any(has_sid(branch) for branch in statement["Fn::If"][1:])
        return isinstance(statement, dict) and statement.get("Sid") == sid

    dropped = 0
    for policy in template["Resources"][role]["Properties"].get("Policies", []):
        statements = policy["PolicyDocument"]["Statement"]
        kept = [s for s in statements if not has_sid(s)]
        dropped += len(statements) - len(kept)
        policy["PolicyDocument"]["Statement"] = kept
    if dropped != 1:
        raise SystemExit(f"{role} has {dropped} statements with Sid {sid}")


class Resolver:
    def __init__(self, template, parameters, options):
        self.template = template
        self.region = options.get("region", "us-east-1")
        self.account = options.get("account", "123456789012")
        self.stack = options.get("stackName", "stack")
        self.exports = options.get("exports", {})
        # Names CloudFormation generates for unnamed resources (e.g. the AutoScaler table), as the test chose them.
        self.physical = options.get("physicalIds", {})
        self.refs = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.stack}/id",
        }
        for name, spec in template.get("Parameters", {}).items():
            value = parameters.get(name)
            if spec.get("Type") in ("CommaDelimitedList", "List<AWS::EC2::Subnet::Id>") and isinstance(value, str):
                value = value.split(",")
            self.refs[name] = value
        self.conditions = {}
        for name in template.get("Conditions", {}):
            self.condition(name)

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conditions[name]

    def resolved(self):
        out = dict(self.template)
        out["Resources"] = {
            logical: self.value(resource)
            for logical, resource in self.template["Resources"].items()
            if "Condition" not in resource or self.condition(resource["Condition"])
        }
        for logical, resource in out["Resources"].items():
            # The generated name, where the template gives none, so readers of the output see the physical name.
            if resource.get("Type") == "AWS::Lambda::Function" and "FunctionName" not in resource.get("Properties", {}):
                resource.setdefault("Properties", {})["FunctionName"] = self.ref(logical)
        out.pop("Conditions", None)
        return out

    def ref(self, name):
        if name in self.refs:
            return self.refs[name]
        if name in self.physical:
            return self.physical[name]
        resource = self.template["Resources"].get(name)
        if resource is None:
            return {"Unresolved": {"Ref": name}}
        props = resource.get("Properties", {})
        # Named resources: Ref returns the name they were given.
        if resource.get("Type") == "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{self.value(props.get('StateMachineName', name))}"
        for key in ("FunctionName", "RoleName", "LogGroupName", "Name", "AutoScalingGroupName", "TableName"):
            if key in props:
                return self.value(props[key])
        if resource.get("Type") == "AWS::Lambda::Function":
            # Unnamed: CloudFormation generates <stack>-<logical id>-<suffix>, cut to Lambda's 64 characters
            # (AWS::Lambda::Function, FunctionName: "If you don't specify a name, AWS CloudFormation generates a
            # unique physical ID").
            return f"{self.stack}-{name}"[:51] + "-GENERATED001"
        return name

    def get_att(self, logical, attribute):
        resource = self.template["Resources"].get(logical, {})
        kind = resource.get("Type")
        name = self.ref(logical)
        partition, region, account = "aws", self.region, self.account
        if attribute == "Arn":
            # ARN formats as CloudFormation returns them (each resource type's "Return values").
            if kind == "AWS::Logs::LogGroup":
                # Fn::GetAtt Arn of a log group ends in ":*", so it covers the group's streams (AWS::Logs::LogGroup
                # return values, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-logs-loggroup.html).
                return f"arn:{partition}:logs:{region}:{account}:log-group:{name}:*"
            if kind == "AWS::DynamoDB::Table":
                return f"arn:{partition}:dynamodb:{region}:{account}:table/{name}"
            if kind == "AWS::Events::EventBus":
                return f"arn:{partition}:events:{region}:{account}:event-bus/{name}"
            if kind == "AWS::Lambda::Function":
                return f"arn:{partition}:lambda:{region}:{account}:function:{name}"
            if kind == "AWS::IAM::Role":
                return f"arn:{partition}:iam::{account}:role/{name}"
            if kind == "AWS::IAM::InstanceProfile":
                return f"arn:{partition}:iam::{account}:instance-profile/{name}"
            if kind == "AWS::Events::Rule":
                return f"arn:{partition}:events:{region}:{account}:rule/{name}"
        return f"{logical}.{attribute}"

    def sub(self, text, variables):
        def replace(match):
            key = match.group(1)
            if key.startswith("!"):
                return "${" + key[1:] + "}"
            if key in variables:
                return str(variables[key])
            if "." in key:
                return str(self.get_att(*key.split(".", 1)))
            value = self.ref(key)
            return value if isinstance(value, str) else json.dumps(value)

        # IAM policy variables (${ec2:SourceInstanceARN}, ${aws:username}) have one ':' and are IAM's, not ours.
        return re.sub(r"\$\{([^}]+)\}", lambda m: m.group(0) if re.fullmatch(r"[^:]+:[^:]+", m.group(1)) else replace(m), text)

    def value(self, node):
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v != "AWS::NoValue"]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return "AWS::NoValue" if arg == "AWS::NoValue" else self.ref(arg)
            if key == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return self.value(arg[0]) == self.value(arg[1])
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(a) for a in arg)
            if key == "Fn::Or":
                return any(self.value(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                return self.sub(arg[0], {k: self.value(v) for k, v in arg[1].items()})
            if key == "Fn::GetAtt":
                logical, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(logical, attribute)
            if key == "Fn::ImportValue":
                name = self.value(arg)
                return self.exports.get(name, {"Unresolved": {"Fn::ImportValue": name}})
            if key == "Fn::Join":
                return arg[0].join(str(v) for v in self.value(arg[1]))
            if key == "Fn::Split":
                return self.value(arg[1]).split(arg[0])
            if key == "Fn::Select":
                return self.value(arg[1])[int(self.value(arg[0]))]
            if key == "Fn::Base64":
                # Left as text: the test reads the user data header (the bootstrap's environment) from it.
                return self.value(arg)
        out = {}
        for key, item in node.items():
            resolved = self.value(item)
            if resolved != "AWS::NoValue":
                out[key] = resolved
        return out


if __name__ == "__main__":
    main()
