"""The definitions language: models of ``lcdev.yaml`` and ``service.yaml``, their loading with
file:line:column problems, cross-reference checks and JSON Schemas.

This is the bottom layer: it imports only pydantic, ruamel.yaml and the standard library.
"""

from lcdev.definitions.common import Duration, format_duration, parse_duration
from lcdev.definitions.crossrefs import event_payload_fields
from lcdev.definitions.endpoints import EndpointDefinition, HttpMethod
from lcdev.definitions.entities import (
    CRUD_OPERATIONS,
    CrudOperation,
    EntityDefinition,
    IndexDefinition,
    back_refs,
    plural_path,
)
from lcdev.definitions.events import ConsumedEvent, ConsumerAction, PublishedEvent, Trigger
from lcdev.definitions.fields import FIELD_TYPES, FieldDefinition, FieldType, OnDelete
from lcdev.definitions.guards import Condition, Guard, SettingRef, parse_guard
from lcdev.definitions.issues import DefinitionError, Issues
from lcdev.definitions.loader import (
    SERVICE_FILE,
    WORKSPACE_FILE,
    LoadedWorkspace,
    find_workspace_root,
    load_workspace,
)
from lcdev.definitions.paths import RESERVED_PATHS, route_shape
from lcdev.definitions.policy import AuthPolicy, CorsPolicy, GatewayPolicy, RateLimit, RoutePolicy
from lcdev.definitions.problems import Problem, Severity, sort_problems
from lcdev.definitions.schema import service_json_schema, workspace_json_schema
from lcdev.definitions.service import ProcessSpec, ServiceDefinition, ServiceKind
from lcdev.definitions.settings import SettingDefinition
from lcdev.definitions.workflows import AwaitSpec, RetryPolicy, WorkflowDefinition, WorkflowStep
from lcdev.definitions.workspace import SecretRef, WorkspaceDefinition, WorkspaceGateway
from lcdev.definitions.yamlload import YamlDocument, load_document, load_model, validate_document

__all__ = [
    "CRUD_OPERATIONS",
    "FIELD_TYPES",
    "RESERVED_PATHS",
    "SERVICE_FILE",
    "WORKSPACE_FILE",
    "AuthPolicy",
    "AwaitSpec",
    "Condition",
    "ConsumedEvent",
    "ConsumerAction",
    "CorsPolicy",
    "CrudOperation",
    "DefinitionError",
    "Duration",
    "EndpointDefinition",
    "EntityDefinition",
    "FieldDefinition",
    "FieldType",
    "GatewayPolicy",
    "Guard",
    "HttpMethod",
    "IndexDefinition",
    "Issues",
    "LoadedWorkspace",
    "OnDelete",
    "Problem",
    "ProcessSpec",
    "PublishedEvent",
    "RateLimit",
    "RetryPolicy",
    "RoutePolicy",
    "SecretRef",
    "ServiceDefinition",
    "ServiceKind",
    "SettingDefinition",
    "SettingRef",
    "Severity",
    "Trigger",
    "WorkflowDefinition",
    "WorkflowStep",
    "WorkspaceDefinition",
    "WorkspaceGateway",
    "YamlDocument",
    "back_refs",
    "event_payload_fields",
    "find_workspace_root",
    "format_duration",
    "load_document",
    "load_model",
    "load_workspace",
    "parse_duration",
    "parse_guard",
    "plural_path",
    "route_shape",
    "service_json_schema",
    "sort_problems",
    "validate_document",
    "workspace_json_schema",
]
