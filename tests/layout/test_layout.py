"""The layout holds: each capability in its folder, imports pointing one way, pure cores free of I/O.

Read from the source with ``ast`` (nothing is imported), so a wrong import fails here with the file and the
line, before it can tangle the packages. docs/architecture.md explains the rules.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CAPABILITIES = ("agency", "callfeed", "channels", "notifications", "ops", "privacy", "reports", "routing",
                "selfservice", "speech", "telephony", "wallboard", "webhooks", "workflow")
CONNECTORS = "connectors"
# the shell, and the REST API: the shell's JSON face (its handlers, tokens and problem details are HTTP through and
# through; what they do is each capability's service)
SHELL = ("web", "api", "bootstrap", "main")
# What the core may lean on: itself, the bus's small events, and the settings schema.
CORE_MAY_IMPORT = ("crm_core", "bus", "config")
# What a connector may use of the core: pure helpers, no service and no database.
CONNECTOR_MAY_USE_FROM_CORE = ("crm_core.phones",)
# Pure cores: decisions, state machines, parsers. They take values and return values.
PURE_CORES = (
    "routing/decide.py", "routing/model.py", "routing/match.py", "routing/rules.py", "routing/strategies.py",
    "routing/sla.py", "routing/agents.py", "routing/duty.py", "routing/territory.py", "routing/text.py",
    "telephony/calls.py", "telephony/model.py", "telephony/record.py", "telephony/originate.py",
    "telephony/state.py",
    "connectors/asterisk/protocol.py", "connectors/asterisk/events.py",
    "connectors/email/parse.py", "connectors/email/html_text.py",
    "connectors/telegram/translate.py", "connectors/webforms/parsing.py",
    "wallboard/state.py", "wallboard/boards.py", "callfeed/state.py",
    "connectors/audiosocket/protocol.py", "speech/live_core.py", "webhooks/core.py", "routing/listing.py",
    "routing/hours.py",
)
IO_MODULES = ("asyncio", "socket", "sqlite3", "sqlalchemy", "aiohttp", "aiosqlite", "asyncpg", "aiosmtplib",
              "aioimaplib", "panoramisk", "telegram", "redis", "nats", "subprocess", "crm_core.db", "bus.bus",
              "requests", "urllib.request", "http.client")


def python_files(top: str) -> list[Path]:
    base = ROOT / top
    if base.is_file():
        return [base]
    return [p for p in base.rglob("*.py") if "migrations" not in p.parts]


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports (at the top or inside a function), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def top(module: str) -> str:
    return module.split(".")[0]


def breaches(files: list[Path], allowed) -> list[str]:  # noqa: ANN001 - a predicate on a module name
    return [f"{path.relative_to(ROOT)}:{line} imports {module}"
            for path in files for line, module in imports_of(path) if not allowed(module)]


FIRST_PARTY = frozenset({*CAPABILITIES, CONNECTORS, "crm_core", "bus", "config", *SHELL, "bench", "tests"})


def test_the_crm_core_imports_no_capability_connector_or_web():
    def allowed(module: str) -> bool:
        return top(module) not in FIRST_PARTY or top(module) in CORE_MAY_IMPORT

    assert breaches(python_files("crm_core"), allowed) == []


def test_a_connector_speaks_its_protocol_and_touches_no_service_or_database():
    def allowed(module: str) -> bool:
        if top(module) == "crm_core":
            return module.startswith(CONNECTOR_MAY_USE_FROM_CORE)
        if top(module) in ("sqlalchemy", "aiosqlite", "asyncpg"):
            return False
        return top(module) not in FIRST_PARTY or top(module) in (CONNECTORS, "bus", "config")

    assert breaches(python_files(CONNECTORS), allowed) == []


def test_no_capability_imports_the_web_shell_except_its_pages():
    """A capability's service, queries and pure core never reach for the web app; its views may."""
    def allowed(module: str) -> bool:
        return top(module) not in SHELL

    files = [p for cap in CAPABILITIES for p in python_files(cap)
             if not p.name.startswith("views") and p.name != "webutil.py"]
    assert breaches(files, allowed) == []


def test_the_pure_cores_do_no_io():
    def allowed(module: str) -> bool:
        return not any(module == io or module.startswith(io + ".") for io in IO_MODULES)

    files = [ROOT / name for name in PURE_CORES]
    assert [f for f in files if not f.is_file()] == []
    assert breaches(files, allowed) == []


def test_every_capabilitys_pages_live_in_its_own_folder():
    """The shell keeps only its own templates and static files; a capability's live beside its views."""
    shell_templates = {p.name for p in (ROOT / "web/templates").iterdir()}
    prefixes = tuple(f"{cap}_" for cap in CAPABILITIES) + ("wallboard.", "agency_", "telephony_")
    assert sorted(n for n in shell_templates if n.startswith(prefixes)) == []
    assert not (ROOT / "web/feature_views").exists()
    from web.features import PAGES, features

    names = {module.__name__ for module in features()}
    for package in PAGES:
        assert any(name.startswith(package + ".") for name in names), f"{package} registers no pages"


def test_no_module_grows_past_the_limit():
    """About 400 lines a module; the few listed here are the reasoned exceptions (docs/architecture.md)."""
    limit = 440
    exceptions = {"crm_core/migrations/versions/0001_initial_schema.py"}
    long = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".", "var/", "build/")) or "egg-info" in rel or rel in exceptions:
            continue
        lines = sum(1 for _ in path.open(encoding="utf-8"))
        if lines > limit:
            long.append(f"{rel}: {lines}")
    assert long == []
