"""Downloads from the Hugging Face Hub that fail fast, and say how to work offline, when the network is dead.

``hf_hub_download`` retries a metadata request that timed out six times, with a 60 s timeout, when the file is not
cached: 6.6 minutes on a network that never answers, 26 s with no DNS. :func:`download_files` makes one request
with the Hub's usual 10 s timeout (``HF_HUB_ETAG_TIMEOUT``) first; if it gets no answer, the cached copy is used
(with a warning) when there is one, and otherwise the error says what to do.
"""

from __future__ import annotations

import importlib
import re
import warnings
from pathlib import Path

__all__ = ["download_files", "HubUnreachable", "transport_errors", "OFFLINE_HINT"]

OFFLINE_HINT = ("to work offline, set HF_HUB_OFFLINE=1 (models already in the Hugging Face cache load without the "
                "network) or pass a local model folder (config.json + model.safetensors)")


class HubUnreachable(Exception):
    """The Hub did not answer (timeout, no DNS, connection refused) and no cached copy exists."""


def download_files(repo_id: str, revision: str | None, names: tuple[str, str], local_dir: Path | None = None,
                   **kwargs) -> list[Path]:
    """The files ``names`` (config, weights) of a model repo, through the cache or into ``local_dir``.

    Raises:
        FileNotFoundError: the repo, revision or a file does not exist, or the Hub cannot be reached and nothing
            is cached; the message says what to check and how to work offline.
    """
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    config, weights = names
    by_hand = f" Or download {config} and {weights} by hand into {local_dir}." if local_dir else ""
    try:
        return _fetch(repo_id, revision, names, local_dir, kwargs)
    except HubUnreachable as e:
        raise FileNotFoundError(
            f"could not reach the Hugging Face Hub for {repo_id!r} ({e}), and it is not in the local cache. Check "
            f"the network (and HF_ENDPOINT or proxy settings if set); {OFFLINE_HINT}.{by_hand}") from e
    except LocalEntryNotFoundError as e:
        raise FileNotFoundError(
            f"{repo_id!r} is not in the local Hugging Face cache and downloads are off (offline mode or no "
            f"network). Run once with network access, or unset HF_HUB_OFFLINE, or pass a local folder.{by_hand} "
            f"({e})") from e
    except (RepositoryNotFoundError, RevisionNotFoundError) as e:
        raise FileNotFoundError(
            f"{repo_id!r} (revision {revision or 'main'}) was not found on the Hugging Face Hub; "
            f"check the repo id and revision, or pass a local model folder.{by_hand}") from e
    except EntryNotFoundError as e:  # after LocalEntryNotFoundError, its subclass
        raise FileNotFoundError(
            f"{repo_id!r} (revision {revision or 'main'}) has no {config} or {weights}; "
            "an fpliif model repo holds both (upload with fpliif.push_to_hub)") from e
    except OSError as e:  # network errors of the HTTP client (also HfHubHTTPError, an OSError)
        raise FileNotFoundError(f"could not download {repo_id!r} from the Hugging Face Hub ({e}); "
                                f"{OFFLINE_HINT}.{by_hand}") from e


def _fetch(repo_id: str, revision: str | None, names: tuple[str, str], local_dir: Path | None,
           kwargs: dict) -> list[Path]:
    """Download (or find in the cache) the files of a model repo, failing fast on a dead network (see the module
    docstring); :class:`HubUnreachable` when nothing answers and nothing is cached."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    def download(**more) -> list[Path]:
        options = {**kwargs, **more}
        return [Path(hf_hub_download(repo_id, name, revision=revision, local_dir=local_dir, **options))
                for name in names]

    offline = kwargs.get("local_files_only") or constants.is_offline_mode()
    if offline or _pinned_in_cache(repo_id, revision, names, kwargs):
        return download()
    try:
        get_hf_file_metadata(hf_hub_url(repo_id, names[0], revision=revision),
                             timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except Exception as e:
        if isinstance(e, HfHubHTTPError) or not isinstance(e, transport_errors()):
            raise  # the Hub answered (e.g. 404): hf_hub_download's errors are the ones to report
        try:
            files = download(local_files_only=True)
        except (LocalEntryNotFoundError, FileNotFoundError):
            raise HubUnreachable(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__) from e
        warnings.warn(f"could not reach the Hugging Face Hub ({type(e).__name__}); using the cached copy of "
                      f"{repo_id} (revision {revision or 'main'})", stacklevel=3)
        return files
    return download()


def _pinned_in_cache(repo_id: str, revision: str | None, names: tuple[str, str], kwargs: dict) -> bool:
    """Whether ``revision`` is a commit whose files are both cached: ``hf_hub_download`` needs no network then."""
    from huggingface_hub import try_to_load_from_cache

    if not revision or not re.fullmatch(r"[0-9a-f]{40}", revision):
        return False
    return all(isinstance(try_to_load_from_cache(repo_id, name, cache_dir=kwargs.get("cache_dir"),
                                                 revision=revision), str) for name in names)


def transport_errors() -> tuple[type[BaseException], ...]:
    """Network error classes of the HTTP clients huggingface_hub may use (each only if installed)."""
    errors: list[type[BaseException]] = [OSError]
    for module, name in (("httpx", "TransportError"), ("httpx2", "TransportError"), ("requests", "RequestException")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)
