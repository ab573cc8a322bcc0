#!/usr/bin/env python3
"""Validate custom resources (KEDA's ScaledObject, TriggerAuthentication) against vendored schemas.

kubernetes-validate knows only the built-in kinds; scripts/check-deploy hands the custom ones to
this script. Each YAML document of FILE is checked against SCHEMAS/<group>_<kind>_<version>.json
(the file names of kedacore/keda's config/crd/bases, e.g. keda.sh_scaledobject_v1alpha1.json).

Strict, like `kubernetes-validate --strict`: an object schema that lists `properties` and does not
set `x-kubernetes-preserve-unknown-fields` rejects fields it does not list (as the API server
prunes or, with field validation, refuses them), and metadata.name is required. A document with
no vendored schema is a failure, not a skip.

Prints `PASS <kind>/<name>` or `INVALID <kind>/<name>: <path>: <message>` per document (one
INVALID line per problem) and exits 1 if any document is invalid, 2 on bad usage.

Usage: validate-crds.py SCHEMA_DIR FILE
Needs jsonschema and PyYAML (the virtualenv of scripts/setup-test-env).
"""
import copy
import json
import os
import sys

import jsonschema
import yaml


def strict(schema):
    """A copy of `schema` in which every object schema with `properties` and without
    `x-kubernetes-preserve-unknown-fields` forbids other properties."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if ('properties' in node and 'additionalProperties' not in node
                    and not node.get('x-kubernetes-preserve-unknown-fields')):
                node['additionalProperties'] = False
            for key, value in node.items():
                # The names under `properties` are field names, not schemas to rewrite; their
                # values are schemas.
                if key == 'properties' and isinstance(value, dict):
                    for sub in value.values():
                        walk(sub)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema)
    return schema


def location(path):
    """`spec.triggers[0].metadata` from jsonschema's deque of keys and indexes."""
    text = ''
    for part in path:
        text += f'[{part}]' if isinstance(part, int) else (f'.{part}' if text else str(part))
    return text or '(document)'


def schema_file(schema_dir, doc):
    """The vendored schema's path for a document, and a message when it cannot have one."""
    api_version = doc.get('apiVersion')
    kind = doc.get('kind')
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None, 'apiVersion and kind must be strings'
    if '/' not in api_version:
        return None, f'{api_version} is a built-in API group; validate it with kubernetes-validate'
    group, version = api_version.split('/', 1)
    path = os.path.join(schema_dir, f'{group}_{kind.lower()}_{version}.json')
    if not os.path.isfile(path):
        return None, f'no vendored schema for {api_version} {kind} (expected {path})'
    return path, None


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    schema_dir, source = argv[1], argv[2]
    try:
        with open(source, encoding='utf-8') as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        print(f'validate-crds: cannot read {source}: {e}', file=sys.stderr)
        return 2
    if not docs:
        print(f'validate-crds: {source} holds no documents', file=sys.stderr)
        return 1

    validators = {}
    invalid = 0
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            print(f'INVALID document {index}: (document): not a mapping')
            invalid += 1
            continue
        kind = doc.get('kind', '?')
        name = (doc.get('metadata') or {}).get('name') if isinstance(doc.get('metadata'), dict) else None
        label = f'{kind}/{name or f"<document {index}>"}'
        problems = []
        if not isinstance(name, str) or not name:
            problems.append(('metadata.name', 'is required'))
        path, why = schema_file(schema_dir, doc)
        if path is None:
            problems.append(('(document)', why))
        else:
            if path not in validators:
                with open(path, encoding='utf-8') as f:
                    schema = strict(json.load(f))
                cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
                cls.check_schema(schema)
                validators[path] = cls(schema)
            for error in sorted(validators[path].iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
                problems.append((location(error.absolute_path), error.message))
        if problems:
            invalid += 1
            for where, message in problems:
                print(f'INVALID {label}: {where}: {message}')
        else:
            print(f'PASS {label}')
    return 1 if invalid else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
