"""One contract for every storage backend: local, memory and S3 (a real nanio server)."""

from __future__ import annotations

import io
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from tests.s3server import S3Server

from mediaforge.storage import (
    CHUNK_SIZE,
    BlobNotFound,
    InvalidKey,
    LocalStorage,
    MemoryStorage,
    S3Storage,
    Storage,
    StorageError,
    storage_from_url,
)
from mediaforge.storage.signing import verify

SIGNING_KEY = b"contract-suite-signing-key"
PUBLIC_URL = "http://media.test"
BAD_KEYS = ["../x", "/abs", "a//b", "a/./b", "a/../b", "a\\b", "a\x00b", "", "a/", "x" * 513, "sp ace"]


def _build(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if kind == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        bucket: str = request.getfixturevalue("s3_bucket")
        return _s3(server, f"s3://{bucket}/tenant")
    url = "memory://" if kind == "memory" else (tmp_path / "blobs").as_uri()
    return storage_from_url(url, public_url=PUBLIC_URL, signing_key=SIGNING_KEY)


def _s3(server: S3Server, url: str, *, secret_key: str | None = None) -> Storage:
    return storage_from_url(
        url,
        public_url=PUBLIC_URL,
        signing_key=SIGNING_KEY,
        s3_endpoint_url=server.endpoint_url,
        s3_region=server.region,
        s3_access_key=server.access_key,
        s3_secret_key=secret_key or server.secret_key,
    )


@pytest.fixture(params=["local", "memory", pytest.param("s3", marks=pytest.mark.s3)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    return _build(request.param, request, tmp_path)


@pytest.fixture(params=["local", "memory"])
def hmac_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    return _build(request.param, request, tmp_path)


@pytest.fixture
def s3_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    return _build("s3", request, tmp_path)


class RecordingReader:
    """A file-like that remembers every size it was asked to read."""

    def __init__(self, data: bytes) -> None:
        self._buffer = io.BytesIO(data)
        self.sizes: list[int] = []

    def read(self, size: int = -1, /) -> bytes:
        self.sizes.append(size)
        return self._buffer.read(size)


def _breaking_payload() -> Iterator[bytes]:
    yield b"partial"
    raise RuntimeError("source broke")


def _payload(size: int) -> bytes:
    return random.Random(size).randbytes(size)


def test_put_bytes_round_trips(storage: Storage) -> None:
    """Bytes come back unchanged, with their size and (where kept) content type."""
    stored = storage.put("a/b/photo.png", b"\x89PNG-data", content_type="image/png")
    stat = storage.stat("a/b/photo.png")
    assert (stored.key, stored.size) == ("a/b/photo.png", 9)
    assert stat.size == 9
    assert stat.content_type == (None if storage.name == "local" else "image/png")
    assert storage.read("a/b/photo.png") == b"\x89PNG-data"


def test_put_file_like_round_trips(storage: Storage) -> None:
    """A file-like payload is stored in full."""
    data = _payload(3000)
    assert storage.put("f", io.BytesIO(data)).size == 3000
    assert storage.read("f") == data


def test_put_iterable_round_trips(storage: Storage) -> None:
    """An iterable of chunks is stored as their concatenation, empty chunks included."""
    assert storage.put("it", iter([b"ab", b"", b"cd"])).size == 4
    assert storage.read("it") == b"abcd"


def test_empty_blob_round_trips(storage: Storage) -> None:
    """A zero-byte blob exists, has size 0 and reads as nothing."""
    storage.put("empty", b"")
    assert storage.stat("empty").size == 0
    assert list(storage.open("empty")) == []


def test_put_replaces_existing_blob(storage: Storage) -> None:
    """A second put under the same key wins."""
    storage.put("k", b"old")
    storage.put("k", b"new!")
    assert (storage.read("k"), storage.stat("k").size) == (b"new!", 4)


def test_failed_put_stores_nothing(storage: Storage) -> None:
    """When the payload breaks midway the error propagates and no blob appears."""

    with pytest.raises(RuntimeError, match="source broke"):
        storage.put("broken", _breaking_payload())
    assert not storage.exists("broken")


def test_large_file_streams_in_bounded_chunks(storage: Storage) -> None:
    """A multi-chunk file is read in pieces of at most CHUNK_SIZE and comes back in pieces too."""
    data = _payload(9 * CHUNK_SIZE + 123)
    reader = RecordingReader(data)
    assert storage.put("big/blob.bin", reader).size == len(data)
    chunks = list(storage.open("big/blob.bin"))
    assert all(0 < size <= CHUNK_SIZE for size in reader.sizes)
    assert max(len(c) for c in chunks) <= CHUNK_SIZE
    assert b"".join(chunks) == data


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),
        (10, None),
        (10, 20),
        (90, 500),
        (0, 100),
        (99, None),
        (100, None),
        (150, 160),
        (30, 10),
        (5, 5),
    ],
)
def test_range_reads_follow_slice_semantics(storage: Storage, start: int, end: int | None) -> None:
    """``open(start=, end=)`` yields exactly ``blob[start:end]``."""
    data = _payload(100)
    storage.put("r", data)
    assert b"".join(storage.open("r", start=start, end=end)) == data[start:end]


def test_negative_range_is_rejected(storage: Storage) -> None:
    """Negative offsets are a programming error, not a slice from the end."""
    storage.put("r", b"abc")
    with pytest.raises(ValueError, match="non-negative"):
        storage.open("r", start=-1)


def test_missing_blob_raises_blob_not_found(storage: Storage) -> None:
    """stat, open (before any iteration) and read all report a missing blob the same way."""
    for call in (storage.stat, storage.open, storage.read, lambda k: storage.open(k, start=5, end=2)):
        with pytest.raises(BlobNotFound) as caught:
            call("nope/missing")
        assert (caught.value.status, caught.value.code) == (404, "blob_not_found")


def test_exists_tracks_put_and_delete(storage: Storage) -> None:
    """exists is True only between put and delete."""
    assert not storage.exists("e")
    storage.put("e", b"1")
    assert storage.exists("e")
    storage.delete("e")
    assert not storage.exists("e")


def test_delete_is_idempotent(storage: Storage) -> None:
    """Deleting twice, or deleting what never existed, succeeds."""
    storage.put("d/x", b"1")
    storage.delete("d/x")
    storage.delete("d/x")
    storage.delete("never/was")
    with pytest.raises(BlobNotFound):
        storage.stat("d/x")


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_invalid_keys_are_rejected_everywhere(storage: Storage, key: str) -> None:
    """Every method refuses a malformed key before touching the backend."""
    calls: list[Callable[[], object]] = [
        lambda: storage.put(key, b"x"),
        lambda: storage.open(key),
        lambda: storage.read(key),
        lambda: storage.stat(key),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
        lambda: storage.signed_url(key, expires_in=60),
        lambda: storage.local_path(key),
    ]
    for call in calls:
        with pytest.raises(InvalidKey):
            call()


def test_concurrent_puts_are_all_kept(storage: Storage) -> None:
    """Threads writing distinct keys at once each find their own bytes afterwards."""
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            storage.put(f"c/{i}", str(i).encode() * 1000)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [storage.read(f"c/{i}") for i in range(8)] == [str(i).encode() * 1000 for i in range(8)]


def test_check_passes_when_reachable(storage: Storage) -> None:
    """A healthy backend passes its readiness probe."""
    storage.check()


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_hmac_signed_url_verifies(hmac_storage: Storage) -> None:
    """The signature in a local/memory URL verifies for its own key, expiry and filename."""
    url = hmac_storage.signed_url("a/b.png", expires_in=60, filename='Résumé "final".png')
    q = _query(url)
    assert url.startswith(f"{PUBLIC_URL}/v1/blobs/a/b.png?")
    assert verify(SIGNING_KEY, "a/b.png", q["expires"], q["filename"], q["signature"])


@pytest.mark.parametrize(
    ("field", "value"),
    [("key", "a/c.png"), ("expires", "9999999999"), ("filename", "x.png"), ("signature", "0" * 64)],
)
def test_hmac_signed_url_rejects_tampering(hmac_storage: Storage, field: str, value: str) -> None:
    """Changing any signed value invalidates the signature."""
    q = {"key": "a/b.png", **_query(hmac_storage.signed_url("a/b.png", expires_in=60, filename="b.png"))}
    q[field] = value
    assert not verify(SIGNING_KEY, q["key"], q["expires"], q["filename"], q["signature"])


def test_hmac_signed_url_expires(hmac_storage: Storage) -> None:
    """A signature stops verifying once its expiry has passed, and never verifies with another key."""
    q = _query(hmac_storage.signed_url("k", expires_in=60))
    expires = int(q["expires"])
    assert verify(SIGNING_KEY, "k", expires, None, q["signature"], now=expires)
    assert not verify(SIGNING_KEY, "k", expires, None, q["signature"], now=expires + 1)
    assert not verify(b"another key", "k", expires, None, q["signature"], now=expires)


def test_hmac_signed_url_grants_get_only(hmac_storage: Storage) -> None:
    """Local and memory URLs cannot authorize uploads."""
    with pytest.raises(ValueError, match="GET"):
        hmac_storage.signed_url("k", expires_in=60, method="PUT")


@pytest.mark.s3
def test_s3_presigned_get_downloads_the_blob(s3_storage: Storage) -> None:
    """A presigned GET URL fetches the bytes without credentials, with or without a filename."""
    s3_storage.put("dl/file.bin", b"presigned bytes")
    for filename in (None, "résumé.bin"):
        response = httpx.get(s3_storage.signed_url("dl/file.bin", expires_in=60, filename=filename))
        assert (response.status_code, response.content) == (200, b"presigned bytes")


@pytest.mark.s3
def test_s3_presigned_put_uploads_a_blob(s3_storage: Storage) -> None:
    """A presigned PUT URL stores the request body under the key."""
    response = httpx.put(
        s3_storage.signed_url("up/file.bin", expires_in=60, method="PUT"), content=b"uploaded"
    )
    assert response.status_code == 200
    assert s3_storage.read("up/file.bin") == b"uploaded"


@pytest.mark.s3
def test_s3_keys_live_under_the_url_prefix(s3_server: S3Server, s3_bucket: str) -> None:
    """``s3://bucket/prefix`` stores key ``k`` as object ``prefix/k``."""
    _s3(s3_server, f"s3://{s3_bucket}/tenant/one/").put("k/v.txt", b"v")
    listing = s3_server.client.list_objects_v2(Bucket=s3_bucket)
    assert [o["Key"] for o in listing.get("Contents", [])] == ["tenant/one/k/v.txt"]


@pytest.mark.s3
def test_s3_check_fails_with_wrong_secret(s3_server: S3Server, s3_bucket: str) -> None:
    """Bad credentials make the readiness probe raise StorageError."""
    with pytest.raises(StorageError):
        _s3(s3_server, f"s3://{s3_bucket}", secret_key="not-the-secret").check()


@pytest.mark.s3
def test_s3_check_fails_for_missing_bucket_until_created(s3_server: S3Server) -> None:
    """A missing bucket fails the probe; create_bucket_if_missing fixes it and is idempotent."""
    storage = _s3(s3_server, f"s3://mf-{uuid.uuid4().hex}")
    assert isinstance(storage, S3Storage)
    with pytest.raises(StorageError):
        storage.check()
    storage.create_bucket_if_missing()
    storage.create_bucket_if_missing()
    storage.check()


def test_local_path_is_the_blob_file(storage: Storage) -> None:
    """Only the local backend exposes a file, holding exactly the blob's bytes."""
    storage.put("p/q.bin", b"on disk")
    path = storage.local_path("p/q.bin")
    if storage.name == "local":
        assert path is not None
        assert path.read_bytes() == b"on disk"
    else:
        assert path is None


def test_local_refuses_paths_resolving_outside_root(tmp_path: Path) -> None:
    """A symlink inside the root cannot carry a key outside it."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    storage = LocalStorage(root, public_url=PUBLIC_URL, signing_key=SIGNING_KEY)
    with pytest.raises(InvalidKey):
        storage.put("link/x", b"escape")
    assert list(outside.iterdir()) == []


def test_local_put_leaves_no_temporary_files(tmp_path: Path) -> None:
    """An atomic write leaves only the blob behind, even when the payload fails midway."""
    storage = LocalStorage(tmp_path, public_url=PUBLIC_URL, signing_key=SIGNING_KEY)
    storage.put("ok", b"fine")
    with pytest.raises(RuntimeError, match="source broke"):
        storage.put("broken", _breaking_payload())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [("memory://", MemoryStorage), ("file:///tmp/mf-blobs", LocalStorage), ("relative/blobs", LocalStorage)],
)
def test_storage_from_url_picks_the_backend(url: str, expected: type[Storage]) -> None:
    """The URL scheme, or a bare path, selects the backend."""
    assert type(storage_from_url(url, public_url=PUBLIC_URL, signing_key=SIGNING_KEY)) is expected


@pytest.mark.parametrize("url", ["ftp://host/x", "s3://", "file://remote/x", ""])
def test_storage_from_url_rejects_unusable_urls(url: str) -> None:
    """Unknown schemes and incomplete URLs are configuration errors."""
    with pytest.raises(ValueError, match="storage URL"):
        storage_from_url(url, public_url=PUBLIC_URL, signing_key=SIGNING_KEY)
