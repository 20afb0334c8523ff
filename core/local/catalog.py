"""The local model catalog: what this workspace can fine-tune or serve.

Three sources, merged at read time: models the workspace knows (the demo
model and folders added by path, in SQLite), fine-tuned models in the local
registry, and the Hugging Face cache on this machine. Folders are referenced
in place, never copied; inspecting one reads config.json and the safetensors
headers only, never the weights.
"""

from __future__ import annotations

import builtins
import difflib
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import AuthError, InvalidInput, NetworkUnavailable, NotFound
from ..hub import hf_cache_dir, hub_endpoint, offline_switch, reporting_tqdm, unreachable
from ..models import CatalogModel
from ..names import check_name, check_ref, is_id
from ..workspace import WorkspacePaths
from .model_folder import inspect
from .store import DAMAGED, Store, damage_reason

_FIELDS = set(CatalogModel.__dataclass_fields__)


def _damaged(record: dict[str, Any], where: str, why: str) -> CatalogModel:
    """A row that cannot be read, listed under its name so that it alone is affected."""
    name, version = str(record.get("name")), str(record.get("version", "?"))
    return CatalogModel(
        name=name,
        version=version,
        source="damaged",
        id=f"local://{where}/{name}/versions/{version}",
        description=f"its record in the workspace database is damaged ({why}); other models are unaffected",
    )


# -- the catalog --------------------------------------------------------------------------
class LocalCatalog:
    def __init__(self, paths: WorkspacePaths, store: Store) -> None:
        self.paths = paths
        self.store = store

    def list(self, query: str | None = None) -> list[CatalogModel]:
        known = sorted(
            (self._from_record(r) for r in self.store.list_models()),
            key=lambda m: (m.name, int(m.version) if m.version.isdigit() else 0, m.version),
        )
        models = known + self._registered()
        seen = {m.path for m in known if m.path}
        models += [m for m in self._hf_cache() if m.path not in seen]
        if query:
            q = query.lower()
            models = [
                m
                for m in models
                if q in m.name.lower()
                or q in (m.architecture or "").lower()
                or any(q in f"{k}={v}".lower() for k, v in m.tags.items())
            ]
        return models

    def get(self, ref: str) -> CatalogModel:
        name, version = (ref, "") if is_id(ref) else check_ref("model", ref)
        models = [self._from_record(r) for r in self.store.list_models()] + self._registered()
        if not any(m.name == name or m.id == ref for m in models):
            models += self._hf_cache()  # scanned only when the workspace does not know the name
        for m in models:
            if ref == m.id:
                return m
        same = [m for m in models if m.name == name]
        if not same:
            close = difflib.get_close_matches(name, sorted({m.name for m in models}), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise NotFound(
                f"no model named {name!r} in the catalog of workspace {self.paths.root}{hint} (`finetui model list` shows them)"
            )
        if version:
            for m in same:
                if m.version == version:
                    return m
            raise NotFound(f"{name} has no version {version}; versions: {', '.join(m.version for m in same)}")
        registered = [m for m in same if m.source == "registry" and m.version.isdigit()]
        if registered:
            return max(registered, key=lambda m: int(m.version))
        numbered = [m for m in same if m.version.isdigit()]
        return max(numbered, key=lambda m: int(m.version)) if numbered else same[-1]

    def add_path(
        self,
        path: str | Path,
        name: str | None = None,
        *,
        source: str = "local-path",
        description: str = "",
        tags: dict[str, str] | None = None,
        model_specific_defaults: dict[str, Any] | None = None,
    ) -> CatalogModel:
        """Register a local Hugging Face folder in place; the same name again makes a new version."""
        fields = inspect(path)
        if name is None:
            name = Path(fields["path"]).name
            try:
                check_name("model", name)
            except InvalidInput as exc:
                raise InvalidInput(f"{exc} (the folder's name; pass --name)") from None
        check_name("model", name)
        versions = [int(r["version"]) for r in self.store.list_models() if r["name"] == name and str(r["version"]).isdigit()]
        version = str(max(versions, default=0) + 1)
        record = {
            **fields,
            "name": name,
            "version": version,
            "source": source,
            "id": f"local://models/{name}/versions/{version}",
            "description": description or f"{fields['architecture'] or 'model'} from {fields['path']}",
            "tags": {**fields["tags"], **(tags or {})},
            "model_specific_defaults": dict(model_specific_defaults or {}),
            "lineage": {},
            "created_at": time.time(),
        }
        self.store.put_model(record)
        return self._from_record(record)

    def pull(self, repo_id: str, progress: Callable[[str, float | None], None] | None = None) -> CatalogModel:
        """Download a model from the Hugging Face Hub into its cache, then add it to the catalog."""
        check_name("model", repo_id)
        import huggingface_hub
        from huggingface_hub import errors as hf_errors

        cache = hf_cache_dir()
        say = progress or (lambda _msg, _frac: None)
        try:  # already cached: no network needed
            folder = huggingface_hub.snapshot_download(repo_id, cache_dir=cache, local_files_only=True)
            return self._add_pulled(folder, repo_id)
        except (hf_errors.LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
            pass
        if offline_switch("HF_HUB_OFFLINE"):
            raise NetworkUnavailable(f"cannot pull {repo_id}: HF_HUB_OFFLINE is set and the model is not in the cache at {cache}")
        endpoint = hub_endpoint()
        why = unreachable(endpoint)
        if why:
            raise NetworkUnavailable(f"cannot pull {repo_id}: {endpoint} is unreachable ({why})")
        say(f"downloading {repo_id}", None)
        try:
            folder = huggingface_hub.snapshot_download(repo_id, cache_dir=cache, tqdm_class=reporting_tqdm(say))
        except hf_errors.GatedRepoError:
            raise AuthError(f"{repo_id} is gated: accept its terms on the Hub and log in (HF_TOKEN)") from None
        except hf_errors.RepositoryNotFoundError:
            raise NotFound(f"no model {repo_id!r} on the Hugging Face Hub (or it is private; set HF_TOKEN)") from None
        except (hf_errors.HfHubHTTPError, OSError) as exc:
            raise NetworkUnavailable(f"cannot pull {repo_id}: {str(exc).splitlines()[0]}") from None
        say(f"downloaded {repo_id}", 1.0)
        return self._add_pulled(folder, repo_id)

    def _add_pulled(self, folder: str, repo_id: str) -> CatalogModel:
        """Pulling what is already in the catalog returns that entry rather than a new version."""
        where = str(Path(folder).resolve())
        for r in self.store.list_models():
            if r["name"] == repo_id and r.get("path") == where:
                return self._from_record(r)
        return self.add_path(folder, name=repo_id, source="hf-cache")

    def inspect(self, path: str | Path) -> dict[str, Any]:
        return inspect(path)

    # -- sources ----------------------------------------------------------------------
    @staticmethod
    def _from_record(record: dict[str, Any]) -> CatalogModel:
        why = record.get(DAMAGED)
        if why is None:
            try:
                values = {k: v for k, v in record.items() if k in _FIELDS}
                values["version"] = str(values.get("version", "1"))
                values.setdefault("source", "workspace")
                values.setdefault("id", f"local://models/{values['name']}/versions/{values['version']}")
                return CatalogModel(**values)
            except (KeyError, TypeError) as exc:
                why = damage_reason(exc)
        return _damaged(record, "models", why)

    # builtins.list: inside the class body `list` is the method above
    def _registered(self) -> builtins.list[CatalogModel]:
        base_defaults = {f"{r['name']}:{r['version']}": r.get("model_specific_defaults") or {} for r in self.store.list_models()}
        out = []
        for r in self.store.list_registered():
            if DAMAGED in r:
                out.append(_damaged(r, "registry", r[DAMAGED]))
                continue
            if not r.get("path"):
                continue  # a register that did not finish; the next register sweeps it
            try:
                fields = inspect(r["path"])
            except (InvalidInput, NotFound, OSError):
                fields = {"path": r["path"], "tags": {}}
            tags = {k: str(v) for k, v in fields.get("tags", {}).items()}
            tags.update(
                {
                    "format": r.get("format", "mlflow"),
                    "job": str(r.get("job") or ""),
                    "base_model": str(r.get("base_model") or ""),
                }
            )
            out.append(
                CatalogModel(
                    name=r["name"],
                    version=str(r["version"]),
                    source="registry",
                    id=f"local://registry/{r['name']}/versions/{r['version']}",
                    path=r["path"],
                    architecture=fields.get("architecture"),
                    parameter_count=fields.get("parameter_count"),
                    context_length=fields.get("context_length"),
                    size_bytes=fields.get("size_bytes"),
                    dtype=fields.get("dtype"),
                    description=r.get("description", ""),
                    tags=tags,
                    # a fine-tuned model trains again best with its base model's defaults
                    model_specific_defaults=dict(base_defaults.get(str(r.get("base_model")), {})),
                    lineage=dict(r.get("lineage") or {}),
                )
            )
        return out

    def _hf_cache(self) -> builtins.list[CatalogModel]:
        cache = hf_cache_dir()
        if not cache.is_dir():
            return []
        try:
            from huggingface_hub import scan_cache_dir

            info = scan_cache_dir(cache)
        except Exception:  # a damaged cache must not break listing the catalog
            return []
        out = []
        for repo in sorted(info.repos, key=lambda r: r.repo_id):
            if repo.repo_type != "model" or not repo.revisions:
                continue
            revision = next((r for r in repo.revisions if "main" in r.refs), None)
            revision = revision or max(repo.revisions, key=lambda r: r.last_modified)
            if not any(f.file_name == "config.json" for f in revision.files):
                continue
            try:
                fields = inspect(revision.snapshot_path)
            except (InvalidInput, NotFound, OSError):
                continue
            out.append(
                CatalogModel(
                    name=repo.repo_id,
                    version=revision.commit_hash[:8],
                    source="hf-cache",
                    id=f"hf://{repo.repo_id}@{revision.commit_hash}",
                    description=f"{repo.repo_id} from the Hugging Face cache",
                    **{k: v for k, v in fields.items() if k in _FIELDS},
                )
            )
        return out
