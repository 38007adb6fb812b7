"""A small blocking HTTP client over `wasi:http/outgoing-handler`: the host sends the request,
after checking it against `[capabilities.http] allowed_hosts`."""

from dataclasses import dataclass

from componentize_py_types import Err
from wit_world.imports import monotonic_clock, outgoing_handler, poll
from wit_world.imports import wasi_http_types as http
from wit_world.imports.streams import StreamError_Closed

from classify import FATAL, INVALID, RETRYABLE, Failure

READ_CHUNK = 64 * 1024
MAX_RESPONSE_BYTES = 1024 * 1024

# How each `wasi:http` error code is handled; any other code is retried.
DENIED = (http.ErrorCode_HttpRequestDenied,)
TIMEOUTS = (
    http.ErrorCode_DnsTimeout,
    http.ErrorCode_ConnectionTimeout,
    http.ErrorCode_ConnectionReadTimeout,
    http.ErrorCode_ConnectionWriteTimeout,
    http.ErrorCode_HttpResponseTimeout,
)
BAD_REQUEST = (
    http.ErrorCode_HttpRequestLengthRequired,
    http.ErrorCode_HttpRequestBodySize,
    http.ErrorCode_HttpRequestMethodInvalid,
    http.ErrorCode_HttpRequestUriInvalid,
    http.ErrorCode_HttpRequestUriTooLong,
    http.ErrorCode_HttpRequestHeaderSectionSize,
    http.ErrorCode_HttpRequestHeaderSize,
)


@dataclass
class Response:
    status: int
    headers: list
    body: bytes


class HttpFailure(Exception):
    def __init__(self, failure):
        super().__init__(failure.message)
        self.failure = failure


def from_code(url, code):
    name = type(code).__name__.removeprefix("ErrorCode_")
    if isinstance(code, DENIED):
        # Retrying cannot help until the operator changes the allow-list or the URL.
        return Failure(
            FATAL,
            f"request to {url} denied by the host: its host is not in the connector's "
            "allowed hosts ([capabilities.http] allowed_hosts)",
        )
    if isinstance(code, TIMEOUTS):
        return Failure(RETRYABLE, f"request to {url} timed out: {name}")
    if isinstance(code, BAD_REQUEST):
        return Failure(INVALID, f"invalid request to {url}: {name}")
    return Failure(RETRYABLE, f"request to {url} failed: {name}")


class Exchange:
    """One request: the URL for messages and a deadline over every step."""

    def __init__(self, url, timeout_ms):
        self.url = url
        self.deadline = monotonic_clock.now() + timeout_ms * 1_000_000

    def fail(self, kind, detail):
        return HttpFailure(Failure(kind, f"request to {self.url} failed: {detail}"))

    def wait(self, pollable, step):
        """Blocks until `pollable` is ready, or raises once the deadline passed."""
        with pollable:
            if pollable.ready():
                return
            with monotonic_clock.subscribe_instant(self.deadline) as timer:
                if 0 not in poll.poll([pollable, timer]):
                    raise HttpFailure(
                        Failure(RETRYABLE, f"request to {self.url} timed out while {step}")
                    )


def post(target, headers, body, timeout_ms):
    """POSTs `body`; returns the `Response` or raises `HttpFailure`."""
    ex = Exchange(target.url, timeout_ms)
    entries = [(k, v.encode()) for k, v in headers.items() if k.lower() != "content-length"]
    entries.append(("content-length", str(len(body)).encode()))
    try:
        fields = http.Fields.from_list(entries)
    except Err as e:
        raise ex.fail(INVALID, f"a header was refused ({type(e.value).__name__})") from None

    request = http.OutgoingRequest(fields)
    request.set_method(http.Method_Post())
    request.set_scheme(http.Scheme_Https() if target.https else http.Scheme_Http())
    request.set_authority(target.authority)
    request.set_path_with_query(target.path_with_query)
    outgoing_body = request.body()

    options = http.RequestOptions()
    timeout_ns = timeout_ms * 1_000_000
    for setter in (
        options.set_connect_timeout,
        options.set_first_byte_timeout,
        options.set_between_bytes_timeout,
    ):
        try:
            setter(timeout_ns)
        except Err:
            pass  # a host without this timeout still has our own deadline

    try:
        future = outgoing_handler.handle(request, options)
    except Err as e:
        raise HttpFailure(from_code(ex.url, e.value)) from None
    with future:
        try:
            write_body(ex, outgoing_body, body)
        except HttpFailure:
            # A server may answer before reading the whole body (e.g. 401, 413); a broken
            # connection explains itself through the response future.
            pass
        ex.wait(future.subscribe(), "waiting for the response")
        result = future.get()
    if result is None:
        raise ex.fail(RETRYABLE, "no response after its pollable fired")
    # `get` answers option<result<result<incoming-response, error-code>>>.
    if isinstance(result, Err):
        raise ex.fail(RETRYABLE, "response already taken")
    if isinstance(result.value, Err):
        raise HttpFailure(from_code(ex.url, result.value.value))
    return read_response(ex, result.value.value)


def write_body(ex, outgoing_body, data):
    # The stream is a child of the body: it must be dropped before `finish`.
    with outgoing_body.write() as stream:
        view = memoryview(data)
        while view:
            permit = check_write(ex, stream)
            if permit == 0:
                ex.wait(stream.subscribe(), "sending the request body")
                continue
            chunk, view = view[:permit], view[permit:]
            try:
                stream.write(bytes(chunk))
            except Err as e:
                raise ex.fail(RETRYABLE, f"writing the body: {e.value}") from None
        try:
            stream.flush()
        except Err as e:
            raise ex.fail(RETRYABLE, f"writing the body: {e.value}") from None
        # check-write reports 0 until the flush has completed.
        while check_write(ex, stream) == 0:
            ex.wait(stream.subscribe(), "sending the request body")
    try:
        http.OutgoingBody.finish(outgoing_body, None)
    except Err as e:
        raise HttpFailure(from_code(ex.url, e.value)) from None


def check_write(ex, stream):
    try:
        return stream.check_write()
    except Err as e:
        raise ex.fail(RETRYABLE, f"writing the body: {e.value}") from None


def read_response(ex, response):
    # Children (headers, body, its stream) are dropped before their parents.
    with response:
        status = response.status()
        with response.headers() as fields:
            headers = fields.entries()
        with response.consume() as body, body.stream() as stream:
            data = read_body(ex, stream)
    return Response(status, headers, data)


def read_body(ex, stream):
    data = bytearray()
    while len(data) < MAX_RESPONSE_BYTES:
        try:
            chunk = stream.read(READ_CHUNK)
        except Err as e:
            if isinstance(e.value, StreamError_Closed):
                break
            raise ex.fail(RETRYABLE, f"reading the response: {e.value}") from None
        if chunk:
            data += chunk
        else:
            ex.wait(stream.subscribe(), "reading the response body")
    return bytes(data[:MAX_RESPONSE_BYTES])
