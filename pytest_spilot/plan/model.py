"""The validation-file format: these pydantic models are its only definition and JSON Schema."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pytest_spilot.backend_names import PSEUDO, SESSION_BACKENDS
from pytest_spilot.errors import SpilotError
from pytest_spilot.plan.defaults import beneath

if TYPE_CHECKING:
    from pytest_spilot.yamlsource import YamlDocument

OPERATORS = ("==", "!=", "<", "<=", ">", ">=")
Operator = Literal["==", "!=", "<", "<=", ">", ">="]
AGGREGATES = ("first", "last", "max", "min", "count")

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: start with a letter or '_', then use letters, "
            "digits, '_', '.' or '-'"
        )
    return value


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
    return value


def _check_run_file(value: str) -> str:
    parts = PurePosixPath(value).parts
    if not value.strip():
        raise ValueError("the file name is empty; name a file of the run directory")
    if not PurePosixPath(value).is_absolute() and ".." in parts:
        raise ValueError(
            f"{value!r} leaves the run directory ('..'); name a file inside it, or give an "
            "absolute path to read a file elsewhere on purpose"
        )
    return value


def _check_env_name(value: str) -> str:
    if not _ENV_NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not an environment variable name: use letters, digits and '_', "
            "not starting with a digit"
        )
    return value


Name = Annotated[str, AfterValidator(_check_name)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
# A file a metric reads: relative to the run directory (and kept inside it), or absolute.
RunFile = Annotated[str, AfterValidator(_check_run_file)]
Scalar = str | int | float | bool


class StrictModel(BaseModel):
    """Unknown keys are errors; models are immutable once loaded."""

    # Built by the first file read, not at import: the xdist controller imports the models
    # and never reads a file (its workers collect).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class RegexMetric(StrictModel):
    """A number found in the job's log by a regular expression (group 1, else the whole match)."""

    regex: Annotated[str, AfterValidator(_check_regex)]
    aggregate: Literal["first", "last", "max", "min", "count"] = "last"
    file: RunFile | None = Field(
        None,
        description="a file to search instead of the log: relative to the run directory "
        "(and inside it), or absolute",
    )

    @property
    def source_key(self) -> str:
        return "regex"


class JsonMetric(StrictModel):
    """A number in a JSON file (relative to the run directory) at a dotted key path."""

    file: RunFile = Field(
        alias="json", description="JSON file: relative to the run directory (inside it) or absolute"
    )
    path: str = Field(description="dotted key path, e.g. summary.success_rate or corners.0.wns")

    @property
    def source_key(self) -> str:
        return "json"


class PluginMetric(BaseModel):
    """A metric read by a source that a plugin registers (hook ``pytest_spilot_metric_sources``)."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    source: Name

    @property
    def source_key(self) -> str:
        return self.source


def _metric_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        present = [key for key in ("regex", "json", "source") if key in value]
        return present[0] if len(present) == 1 else None
    if isinstance(value, PluginMetric):
        return "source"
    return getattr(value, "source_key", None)


MetricSpec = Annotated[
    Annotated[RegexMetric, Tag("regex")]
    | Annotated[JsonMetric, Tag("json")]
    | Annotated[PluginMetric, Tag("source")],
    Discriminator(
        _metric_tag,
        custom_error_type="metric_source",
        custom_error_message=(
            "a metric names exactly one source: {regex: PATTERN}, {json: FILE, path: KEY} "
            "or {source: PLUGIN_SOURCE, ...}"
        ),
    ),
]


class Threshold(StrictModel):
    """One acceptance threshold: ``metric op value``, or ``metric op baseline x ratio``."""

    metric: str = Field(min_length=1)
    op: Operator
    value: float | None = None
    baseline: float | None = Field(
        None, gt=0, description="ratio to the baseline release's value of the same metric"
    )
    tolerance: float | None = Field(None, ge=0, description="absolute slack for the comparison")
    level: Literal["error", "warning"] = "error"

    @model_validator(mode="after")
    def _value_or_baseline(self) -> Threshold:
        if (self.value is None) == (self.baseline is None):
            raise ValueError("give exactly one of 'value' (a number) or 'baseline' (a ratio)")
        return self

    @property
    def id(self) -> str:
        """The threshold's part of the test id, e.g. ``timing__setup__ws>=0``."""
        if self.value is not None:
            return f"{self.metric}{self.op}{_number(self.value)}"
        return f"{self.metric}{self.op}baseline*{_number(self.baseline or 0)}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


Direction = Literal["higher_is_better", "lower_is_better"]
Level = Literal["error", "warning"]


class RegressionRule(StrictModel):
    """How one metric may move against the baseline release (``--spilot-regressions``)."""

    direction: Direction | None = Field(
        None, description="default: the skill contract's or LibreLane's own definition"
    )
    margin: float | None = Field(
        None, ge=0, description="allowed worsening as a fraction of |baseline| (default 0.05)"
    )
    level: Level | None = Field(
        None,
        description="a regression of this metric fails (error) or is reported (warning); "
        "default: error for a metric LibreLane marks critical or does not define, the "
        "validation's noncritical_regressions for LibreLane's other metrics",
    )


class RetryOn(StrictModel):
    """What makes a failed run transient, besides what the launcher reports (an SSH drop)."""

    exit_codes: list[int] = Field(default_factory=list, description="e.g. a wrapper's 75")
    patterns: list[Annotated[str, AfterValidator(_check_regex)]] = Field(
        default_factory=list, description="regular expressions searched in the attempt's log"
    )
    builtin: bool = Field(
        True,
        description="also the built-in patterns: licence checkout failures, batch queue "
        "refusals, sessions that never became ready (pytest_spilot/core/retry.py)",
    )


class ResourceRequest(StrictModel):
    """Tokens a validation's job holds while it runs, from pools shared by every worker."""

    cpus: int | None = Field(
        None,
        ge=1,
        description="CPUs of the machine-wide pool (--spilot-cpus, [tool.spilot.resources] cpus; "
        "default the machine's); a job sent to a batch system asks it instead",
    )
    licenses: dict[Name, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="licence feature: count, from the pools of [tool.spilot.resources] licenses "
        "or --spilot-license FEATURE=N (a feature without a pool is not capped)",
    )


class Defaults(StrictModel):
    """Settings applied to every validation (and gate) of the file unless it sets its own."""

    timeout_s: float | None = Field(None, gt=0)
    retries: int | None = Field(None, ge=0)
    retry_on: RetryOn | None = None
    regressions: dict[str, RegressionRule] = Field(default_factory=dict)
    noncritical_regressions: Level | None = Field(
        None, description="warning or error: see the validations' own"
    )
    location: str | None = None
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: list[EnvName] = Field(default_factory=list)
    markers: list[Name] = Field(default_factory=list)
    metrics: dict[str, MetricSpec] = Field(default_factory=dict)
    resources: ResourceRequest | None = None


# The lists of ``defaults`` that an entry's own join (others it replaces, mappings merge).
JOINED_DEFAULTS = ("markers", "secret_env")


class ValidationBase(StrictModel):
    if TYPE_CHECKING:
        # Every model declares its own (a Literal, a plugin's model too): the union's tag.
        kind: str

    name: Name
    markers: list[Name] = Field(default_factory=list)
    timeout_s: float = Field(1800, gt=0)
    retries: int = Field(0, ge=0, description="retries of transient failures only")
    retry_on: RetryOn = Field(default_factory=RetryOn)
    regressions: dict[str, RegressionRule] = Field(
        default_factory=dict,
        description="metric: direction, margin and level for --spilot-regressions",
    )
    noncritical_regressions: Level = Field(
        "warning",
        description="a regression of a metric LibreLane defines but does not mark critical: "
        "reported as a warning (default) or failed (error); critical ones always fail",
    )
    location: str = Field("local", description="'local', a node of the inventory, or a launcher")
    cwd: str | None = Field(None, description="working directory (default: the run directory)")
    resources: ResourceRequest = Field(
        default_factory=ResourceRequest,
        description="CPUs and licences held while the job runs, e.g. {cpus: 4, licenses: "
        "{innovus: 1}}; the job waits until all are free",
    )
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: list[EnvName] = Field(
        default_factory=list,
        description="variables (of env, or of the harness's environment) whose values are "
        "redacted from every log, report and state file",
    )
    matrix: dict[Name, Annotated[list[Scalar], Field(min_length=1)]] = Field(default_factory=dict)
    metrics: dict[str, MetricSpec] = Field(default_factory=dict)
    acceptance: list[Threshold] = Field(default_factory=list)
    rules: Annotated[str, Field(min_length=1)] | None = Field(
        None,
        description="an OpenROAD-flow-scripts rules file (rules-base.json: {metric: {value, "
        "compare, level}}), relative to this file: each numeric entry is a threshold like "
        "those of 'acceptance', which wins for a metric both name",
    )


class CommandValidation(ValidationBase):
    """Run a command (argv list, or a string for ``sh -c``) and judge the metrics it leaves."""

    kind: Literal["command"] = "command"
    run: Annotated[list[str], Field(min_length=1)] | Annotated[str, Field(min_length=1)]


class InnovusValidation(ValidationBase):
    """Run one Innovus skill on a design in an Innovus session; metrics come from the ack."""

    kind: Literal["innovus"]
    skill: Name
    design: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)


class LibreLaneValidation(ValidationBase):
    """Run a LibreLane flow on a design; metrics come from the run's final metrics."""

    kind: Literal["librelane"]
    design: str = Field(
        description="design folder (Verilog, optional LibreLane config), or a LibreLane config "
        "file in it, relative to the file"
    )
    pdk: str | None = Field(None, description="PDK name under PDK_ROOT, or a path")
    preset: str | None = Field(None, description="minimal, balanced or high_quality")
    flow: str | None = Field(None, description="a LibreLane flow (Classic); default: steps")
    steps: list[str] | None = Field(None, description="step ids of a sequential flow")
    frm: str | None = Field(None, alias="from", description="first step to run")
    to: str | None = Field(None, description="last step to run")
    skip: list[str] = Field(default_factory=list, description="steps to skip")
    args: dict[str, Any] = Field(
        default_factory=dict, description="LibreLane variables added to the design's config"
    )
    pseudo: dict[str, Any] = Field(
        default_factory=dict,
        description="pseudo backend only: profile (metric: value), fail_at, hang_at, step_s",
    )
    runner: Literal["api", "cli"] | None = Field(
        None,
        description="real backend: api (LibreLane's Python API) or cli (its command line: named "
        "flows with from/to/skip, no steps); default: [tool.spilot.librelane] runner",
    )


def _tag_by_kind(kinds: tuple[str, ...]) -> Any:
    """The union tag of an entry: its ``kind`` (default ``command``), None when not in ``kinds``."""

    def tag(value: Any) -> str | None:
        if isinstance(value, dict):
            kind = value.get("kind", "command")
            return kind if kind in kinds else None
        return getattr(value, "kind", None)

    return tag


class PluginValidation(ValidationBase):
    """A validation of a kind whose runner declares no model: its other keys reach the runner.

    The runner reads them from ``spec.model_extra`` (a mapping of key to value as written).
    """

    model_config = ConfigDict(extra="allow")
    kind: Name


KINDS = ("command", "innovus", "librelane")
BUILTIN_MODELS: dict[str, type[ValidationBase]] = {
    "command": CommandValidation,
    "innovus": InnovusValidation,
    "librelane": LibreLaneValidation,
}


def _validation_union(models: Mapping[str, type[ValidationBase]]) -> Any:
    """The tagged union of a validation entry over ``models`` (kind to model)."""
    members = tuple(Annotated[model, Tag(kind)] for kind, model in models.items())
    return Annotated[
        Union[members],  # noqa: UP007 - a union built from a runtime tuple
        Discriminator(
            _tag_by_kind(tuple(models)),
            custom_error_type="validation_kind",
            custom_error_message=f"'kind' must be one of {', '.join(models)}",
        ),
    ]


if TYPE_CHECKING:
    # Statically: the built-in models, and a plugin kind's as PluginValidation stands for it.
    Validation: TypeAlias = (
        CommandValidation | InnovusValidation | LibreLaneValidation | PluginValidation
    )
else:
    Validation = _validation_union(BUILTIN_MODELS)


class _Required(StrictModel):
    required: bool = Field(False, description="when it fails, the file's validations skip")


class CommandGate(CommandValidation, _Required):
    """A gate that runs a command: a tool on PATH, its version, a licence variable set."""


class NodeGate(ValidationBase, _Required):
    """A gate that a node of the inventory is reachable and passes its preflight."""

    kind: Literal["node"]
    node: str = Field(min_length=1, description="a node of the inventory")


class PythonGate(ValidationBase, _Required):
    """A gate decided by a check that a plugin provides (hook ``pytest_spilot_gate_checks``)."""

    kind: Literal["python"]
    check: Name = Field(description="the check's name")
    args: dict[str, Any] = Field(default_factory=dict, description="passed to the check")


# The session backends a migration gate may name: the built-in ones, and the plugins' once the
# registry is gathered (``use_session_backends``), as for the kinds.
_session_backends: list[str] = list(SESSION_BACKENDS)


def use_session_backends(names: Iterable[str]) -> None:
    """Accept these session backends (a plugin's too) in the files read from now."""
    _session_backends[:] = [*SESSION_BACKENDS, *(n for n in names if n not in SESSION_BACKENDS)]


def _registered_session_backend(value: Any) -> Any:
    if value not in _session_backends:
        # The error a Literal of the names gives: files report it as "use one of ...".
        *first, last = [repr(name) for name in _session_backends]
        expected = f"{', '.join(first)} or {last}" if first else last
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": expected}
        )
    return value


SessionBackendName = Annotated[str, BeforeValidator(_registered_session_backend)]


class MigrationGate(ValidationBase, _Required):
    """The Innovus migration checklist against a target backend, rolled into ready/blocked.

    See innovus.md, "Migration gates": tool, submitter, licence variables, ready in time,
    heartbeat, no-op PASS, traversal refused, every skill's contract, parity with ``reference``.
    """

    kind: Literal["migration"]
    target: SessionBackendName | None = Field(
        None, description="the backend judged (default: --spilot-backend, else the configured one)"
    )
    reference: SessionBackendName = Field(
        PSEUDO, description="the backend parity is judged against"
    )
    design: str | None = Field(None, description="a design the skills run on, relative to the file")
    top: str | None = Field(None, description="the design's top cell (restoreDesign needs it)")
    version: str | None = Field(
        None, description="a regular expression the tool's version output must match"
    )

    @field_validator("version")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


GATE_KINDS = ("command", "node", "python", "migration")
BUILTIN_KINDS = frozenset((*KINDS, *GATE_KINDS))  # a plugin cannot take these over

Gate = Annotated[
    Annotated[CommandGate, Tag("command")]
    | Annotated[NodeGate, Tag("node")]
    | Annotated[PythonGate, Tag("python")]
    | Annotated[MigrationGate, Tag("migration")],
    Discriminator(
        _tag_by_kind(GATE_KINDS),
        custom_error_type="validation_kind",
        custom_error_message="a gate's 'kind' must be one of command, node, python, migration",
    ),
]


class ValidationFile(StrictModel):
    """A release-plan file: defaults, validations and gates."""

    version: Literal[1] = 1
    markers: list[Name] = Field(default_factory=list)
    defaults: Defaults = Field(default_factory=Defaults)
    validations: list[Validation] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)
    # The YAML it was read from (None when built in code): what is found wrong after loading
    # (an unregistered marker, a warning) can still name the line.
    _source: YamlDocument | None = PrivateAttr(default=None)

    @property
    def source(self) -> YamlDocument | None:
        """The parsed file, passed as ``context={"source": doc}`` to ``model_validate``."""
        return self._source

    @model_validator(mode="after")
    def _keep_source(self, info: ValidationInfo) -> ValidationFile:
        if isinstance(info.context, dict):
            self._source = info.context.get("source")
        return self

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("defaults"), dict):
            return data
        try:
            defaults = Defaults.model_validate(data["defaults"])
        except ValidationError:
            return data  # reported once, on the 'defaults' field itself
        out = dict(data)
        for section in ("validations", "gates"):
            if isinstance(data.get(section), list):
                out[section] = [apply_defaults(entry, defaults) for entry in data[section]]
        return out


def apply_defaults(entry: Any, defaults: Defaults) -> Any:
    """Return ``entry`` with the file's defaults beneath it: mappings merged, markers joined."""
    if not isinstance(entry, dict):
        return entry
    given = {key: getattr(defaults, key) for key in defaults.model_fields_set}
    if isinstance(given.get("resources"), ResourceRequest):
        # A mapping, so that an entry's own resources merge with it key by key.
        given["resources"] = given["resources"].model_dump(exclude_unset=True)
    return beneath(entry, given, JOINED_DEFAULTS)


# Kinds that plugins' runners handle, by kind: set from the registry (``use_kinds``) before
# files are read, since the file format is what decides which kinds a file may use.
_plugin_models: dict[str, type[ValidationBase]] = {}
_generic_models: dict[str, type[PluginValidation]] = {}
_file_models: dict[tuple[tuple[str, type[ValidationBase]], ...], type[ValidationFile]] = {}


def plugin_kind_model(kind: str, model: type[ValidationBase] | None = None) -> type[ValidationBase]:
    """The model of a plugin's kind: the runner's own ``model``, else a PluginValidation."""
    if model is not None:
        if not (isinstance(model, type) and issubclass(model, ValidationBase)):
            raise SpilotError(
                f"the runner of kind {kind!r} declares model {model!r}; a runner's model must "
                "derive from pytest_spilot.plan.model.ValidationBase (or leave 'model' out to "
                "get the entries' other keys as spec.model_extra)"
            )
        return model
    if kind not in _generic_models:
        _generic_models[kind] = _generic_model(kind)
    return _generic_models[kind]


def _generic_model(kind: str) -> type[PluginValidation]:
    return create_model(
        f"{kind.title().replace('_', '').replace('-', '')}Validation",
        __base__=PluginValidation,
        __doc__=f"A validation of kind {kind!r}, run by a plugin's runner.",
        kind=(Literal[kind], ...),
    )


def plugin_models(
    models: Mapping[str, type[ValidationBase] | None],
) -> dict[str, type[ValidationBase]]:
    """The models of the plugin kinds among ``models`` (a runner's kind to its model, or None)."""
    return {
        kind: plugin_kind_model(kind, m) for kind, m in models.items() if kind not in BUILTIN_KINDS
    }


def use_kinds(models: Mapping[str, type[ValidationBase] | None]) -> None:
    """Accept these plugin kinds (kind to its runner's model, or None) in files read from now."""
    _plugin_models.clear()
    _plugin_models.update(plugin_models(models))


def validation_file_model(
    plugin_models: Mapping[str, type[ValidationBase]] | None = None,
) -> type[ValidationFile]:
    """ValidationFile accepting the built-in kinds and the plugin kinds (default: ``use_kinds``)."""
    extra = _plugin_models if plugin_models is None else plugin_models
    if not extra:
        return ValidationFile
    key = tuple(sorted(extra.items()))
    if key not in _file_models:
        _file_models[key] = create_model(
            "ValidationFile",
            __base__=ValidationFile,
            __doc__=ValidationFile.__doc__,
            validations=(
                # A union built at run time (the registered kinds): no static type to mypy.
                list[_validation_union({**BUILTIN_MODELS, **dict(key)})],  # type: ignore[misc]
                Field(default_factory=list),
            ),
        )
    return _file_models[key]
