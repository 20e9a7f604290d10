"""Checks the simulator's answers, field by field, against Xero's published schema for them.

Usage: xero_contract.py ANSWERS.json

The schema is Xero's Accounting and Identity OpenAPI documents as generated into the models of
the official SDK xero-python (the PyPI package ships every schema's properties with their types
(`openapi_types`), JSON names (`attribute_map`) and enums (checked by the models' setters), but
not the YAML itself). ANSWERS.json is a list of {"name", "schema", "body"} written by the Rust
test. Every field must be one the schema has, with the schema's type; values of enumerations must
be allowed; `/Date(...)/` fields must parse. A few fields Xero sends that the schema omits but the
document's own response examples show (the response envelope, `DateString`, line
`ValidationErrors`; `scope` on token answers, from the OAuth 2.0 guide) are allowed and named
below. Prints one line per answer checked; exits 1 listing every violation.
"""

import json
import re
import sys
from decimal import Decimal
from enum import Enum

import xero_python
from xero_python.accounting import models as accounting
from xero_python.api_client import ModelFinder
from xero_python.api_client.deserializer import deserialize
from xero_python.identity import models as identity

ENVELOPE = {"Id", "Status", "ProviderName", "DateTimeUTC"}
# Fields in the document's response examples that its schemas leave out.
EXAMPLE_ONLY = {
    "Invoice": {"DateString", "DueDateString"},
    "LineItem": {"ValidationErrors"},
    "AccessToken": {"scope"},
}
# What a ValidationException's element may hold: Xero echoes the resource that failed.
ELEMENT_OF = {
    "Invoices": "Invoice",
    "Contacts": "Contact",
    "Items": "Item",
    "Payments": "Payment",
}
MS_DATE = re.compile(r"^/Date\(-?\d+([+-]\d{4})?\)/$")


def model(name):
    for module in (accounting, identity):
        if hasattr(module, name):
            return module, getattr(module, name)
    raise KeyError(name)


def check(value, type_name, path, errors, extra=()):
    if value is None:
        return
    if type_name.startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        inner = type_name[5:-1]
        for i, item in enumerate(value):
            check(item, inner, f"{path}[{i}]", errors, extra)
        return
    primitive = {
        "str": lambda v: isinstance(v, str),
        "float": lambda v: isinstance(v, (int, float, Decimal)) and not isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "date[ms-format]": lambda v: isinstance(v, str) and MS_DATE.match(v),
        "datetime[ms-format]": lambda v: isinstance(v, str) and MS_DATE.match(v),
        "datetime": lambda v: isinstance(v, str),
        "date": lambda v: isinstance(v, str),
        "object": lambda v: True,
    }
    if type_name in primitive:
        if not primitive[type_name](value):
            errors.append(f"{path}: {value!r} is not of type {type_name}")
        return
    _, cls = model(type_name)
    if isinstance(cls, type) and issubclass(cls, Enum):
        allowed = [e.value for e in cls]
        if value not in allowed:
            errors.append(f"{path}: {value!r} is not one of {type_name}")
        return
    if not isinstance(value, dict):
        errors.append(f"{path}: expected a {type_name} object")
        return
    by_json = {json_name: attr for attr, json_name in cls.attribute_map.items()}
    allowed_extra = set(extra) | EXAMPLE_ONLY.get(type_name, set())
    for key, field in value.items():
        if key in by_json:
            check(field, cls.openapi_types[by_json[key]], f"{path}.{key}", errors)
        elif key not in allowed_extra:
            errors.append(f"{path}: field {key!r} is not in the {type_name} schema")


def check_answer(answer, errors):
    name, schema, body = answer["name"], answer["schema"], answer["body"]
    before = len(errors)
    if schema.startswith("list["):
        check(body, schema, name, errors)
    elif schema.startswith("Error:"):
        resource = schema.split(":", 1)[1]
        elements = body.get("Elements", [])
        check({k: v for k, v in body.items() if k != "Elements"}, "Error", name, errors)
        _, element_cls = model("Element")
        for i, element in enumerate(elements):
            own = {k: v for k, v in element.items() if k in element_cls.attribute_map.values()}
            check(own, "Element", f"{name}.Elements[{i}]", errors)
            rest = {k: v for k, v in element.items() if k not in own}
            check(rest, ELEMENT_OF[resource], f"{name}.Elements[{i}]", errors)
    else:
        check(body, schema, name, errors, extra=ENVELOPE)
    # The SDK's own deserializer runs every model setter, so enumerations are enforced too.
    module, _ = model(schema.split(":")[0].removeprefix("list[").removesuffix("]"))
    target = "Error" if schema.startswith("Error:") else schema
    try:
        deserialize(target, json.loads(json.dumps(body), parse_float=Decimal), ModelFinder(module))
    except (ValueError, TypeError) as e:
        errors.append(f"{name}: the SDK refuses it: {e}")
    status = "ok" if len(errors) == before else "FAILED"
    print(f"{status:6} {name} as {schema}")


answers = json.load(open(sys.argv[1]))
errors = []
for answer in answers:
    check_answer(answer, errors)
print(f"checked {len(answers)} answers against xero-python {xero_python.__version__}")
if errors:
    print("\n".join(errors))
    sys.exit(1)
