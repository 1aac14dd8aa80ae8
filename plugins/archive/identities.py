"""Who the object store knows: one S3 identity per role of config/access.yaml plus the pipeline's own.

Each identity may do in S3 only what its role needs, and the server enforces it — not the command line:

- `pipeline` (the service identity of Dagster runs, `make demo`, the tests): the buckets' owner (SeaweedFS
  `Admin`): creates them with object lock, archives, publishes, exports the access log. Object lock is what
  keeps even this identity from changing an archived version.
- every other role gets what its archive actions (access.yaml `actions`) need in the archive bucket, and
  nothing else: reading (`get`, `verify`, `inputs`, `bundle`, `audit`, `rebuild`) is Read, List and reading
  retention and legal holds; `hold`/`release`/`extend` write a request under `hold-requests/`, which the
  pipeline applies (only the pipeline sets legal holds and retention and writes `holds/`); `export_log` writes `access-log/`; `approve` writes
  the maker-checker decisions on draft reports (`approvals/`; the pipeline delivers what was approved). No role but the
  pipeline may put, overwrite or delete documents, reports or manifests.
- `bundle` also reads the work bucket (a loan's classification and provisions go into the bundle); no role
  writes it.
- a role that is not `read_only` and may `get` may redeliver an archived month (`archive redeliver`), so it
  may read and write the inbox. A `read_only` role writes nothing anywhere.

`s3_identities` renders that table as SeaweedFS's `-s3.config` JSON; SECURITY.md gives the same table for
MinIO and AWS. The development credentials of the local server (`credentials.json` in its state folder,
written once, mode 0600) map each access key back to its role: the role the access log records is the one
whose credentials the server accepted, not the one a caller claims.
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

PIPELINE = "pipeline"
CREDENTIALS_FILE = "credentials.json"
IDENTITIES_ENV = "POSTLOAN_S3_IDENTITIES"  # a file mapping access keys to roles (production; outside the repo)

# What reading the archive takes in S3: the objects, their versions, retention and legal holds.
_ARCHIVE_READ = ("Read", "List", "GetObjectRetention", "GetObjectLegalHold")
_READ_ACTIONS = frozenset({"get", "verify", "inputs", "bundle", "audit", "rebuild"})


@dataclass(frozen=True)
class RoleCredentials:
    role: str
    access_key: str
    secret_key: str | None  # None in an identity map that only names the roles of access keys


def role_grants(role: str, actions: Iterable[str], read_only: bool, inbox: str, archive: str, work: str,
                root: str = "") -> list[str]:
    """The SeaweedFS actions of one identity (`Action` for every bucket, `Action:bucket[/prefix*]` scoped)."""
    if role == PIPELINE:
        return ["Admin", "Read", "Write", "List", "Tagging"]
    allowed = set(actions)
    grants: list[str] = []

    def add(*items: str) -> None:
        grants.extend(item for item in items if item not in grants)

    if allowed & (_READ_ACTIONS | {"hold", "release", "extend", "export_log", "approve"}):
        add(*(f"{action}:{archive}" for action in _ARCHIVE_READ))
    if "bundle" in allowed:  # a bundle carries the month's classification and provisions from the work bucket
        add(f"Read:{work}", f"List:{work}")
    if not read_only:
        if allowed & {"hold", "release", "extend"}:
            # Least privilege: the role files a request (WORM, under hold-requests/ only); the pipeline's
            # identity applies it (plugins/archive/holds.py HoldRequests). No legal-hold or retention flag,
            # no holds/ record is the role's to write, so its credentials cannot switch a hold off.
            add(f"Write:{archive}/{root}hold-requests/*", f"PutObjectRetention:{archive}/{root}hold-requests/*")
        if "export_log" in allowed:
            add(f"Write:{archive}/{root}access-log/*", f"PutObjectRetention:{archive}/{root}access-log/*")
        if "approve" in allowed:  # maker-checker decisions on draft reports (plugins/reports/approval.py)
            add(f"Write:{archive}/{root}approvals/*", f"PutObjectRetention:{archive}/{root}approvals/*")
        if "get" in allowed:  # archive redeliver: the month's delivery back into the inbox
            add(f"Read:{inbox}", f"List:{inbox}", f"Write:{inbox}")
    return grants


def s3_identities(roles: Mapping[str, object], credentials: Mapping[str, RoleCredentials], inbox: str,
                  archive: str, work: str) -> dict:
    """SeaweedFS `-s3.config`: the pipeline and each role of access.yaml, with its credentials and grants."""
    identities = []
    for name in [PIPELINE, *(r for r in roles if r != PIPELINE)]:
        role = roles.get(name)
        actions = getattr(role, "actions", []) if role is not None else []
        read_only = bool(getattr(role, "read_only", False)) if role is not None else False
        creds = credentials[name]
        identities.append({"name": name,
                           "credentials": [{"accessKey": creds.access_key, "secretKey": creds.secret_key}],
                           "actions": role_grants(name, actions, read_only, inbox, archive, work)})
    return {"identities": identities}


def generate_credentials(role: str) -> RoleCredentials:
    """Development credentials: the access key names the role (readable in server logs), the secret is random."""
    return RoleCredentials(role, f"pl-{role.replace('_', '-')}-{secrets.token_hex(6)}", secrets.token_urlsafe(30))


def read_credentials(path: Path) -> dict[str, RoleCredentials]:
    """{role: credentials} from a credentials file; {} when there is none."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return {}
    return {role: RoleCredentials(role, entry["access_key"], entry.get("secret_key"))
            for role, entry in data.get("roles", {}).items()}


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (created 0600, never world-readable even for a moment)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_credentials(path: Path, roles: Iterable[str]) -> dict[str, RoleCredentials]:
    """The credentials of the pipeline and every role, generating those missing (existing ones are kept)."""
    current = read_credentials(path)
    wanted = [PIPELINE, *(r for r in roles if r != PIPELINE)]
    missing = [r for r in wanted if r not in current or not current[r].secret_key]
    if missing or not Path(path).exists():
        current.update({r: generate_credentials(r) for r in missing})
        write_private(path, json.dumps({"roles": {r: {"access_key": c.access_key, "secret_key": c.secret_key}
                                                  for r, c in current.items()}}, indent=2) + "\n")
    return current


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """POSTLOAN_STATE_DIR, else .state/ in the repository (as pipelines/settings.state_dir() says)."""
    env = os.environ if env is None else env
    return Path(env.get("POSTLOAN_STATE_DIR") or Path(__file__).resolve().parents[2] / ".state").resolve()


def local_credentials_path(env: Mapping[str, str] | None = None) -> Path:
    """The local server's credentials file: <state folder>/s3/credentials.json."""
    return default_state_dir(env) / "s3" / CREDENTIALS_FILE


def identity_map_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the roles of access keys are looked up: $POSTLOAN_S3_IDENTITIES (a deployment's map, kept outside
    the repository), else the local server's credentials file."""
    env = os.environ if env is None else env
    return Path(env[IDENTITIES_ENV]).expanduser() if env.get(IDENTITIES_ENV) else local_credentials_path(env)


def role_of_access_key(access_key: str | None, path: Path) -> str | None:
    """The role whose identity an access key is, per the identity map; None for a key it does not name."""
    if not access_key:
        return None
    for role, creds in read_credentials(path).items():
        if secrets.compare_digest(creds.access_key, access_key):
            return role
    return None
