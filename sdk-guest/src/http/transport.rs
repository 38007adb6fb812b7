//! Sending a [`Request`] through `wasi:http/outgoing-handler`, blocking on pollables.

use super::{HttpError, Request, Response};

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn send(request: Request) -> Result<Response, HttpError> {
    // Validate as far as possible so native tests see the same request errors.
    if let Err(detail) = super::url::parse(&request.url) {
        return Err(HttpError::InvalidRequest {
            url: request.url,
            detail,
        });
    }
    Err(HttpError::Other {
        url: request.url,
        detail: "HTTP is only available inside a WebAssembly component".into(),
    })
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn send_borrowed(request: Request, _body: &[u8]) -> Result<Response, HttpError> {
    send(request)
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn send_all(requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
    requests.into_iter().map(send).collect()
}

#[cfg(target_arch = "wasm32")]
pub(crate) use wasi::{send, send_all, send_borrowed};

#[cfg(target_arch = "wasm32")]
mod wasi {
    use wasip2::clocks::monotonic_clock;
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        self as wt, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, OutgoingBody,
        OutgoingRequest, RequestOptions,
    };
    use wasip2::io::poll::{Pollable, poll};
    use wasip2::io::streams::StreamError;

    use super::super::error::from_code;
    use super::super::url::{self, Scheme};
    use super::{HttpError, Request, Response};
    use crate::http::Method;

    /// Largest chunk asked of the response stream at once.
    const READ_CHUNK: usize = 64 * 1024;

    /// What every step needs: the URL for error messages and the overall deadline.
    struct Exchange {
        url: String,
        /// Monotonic-clock instant (ns) after which the request counts as timed out.
        deadline: u64,
    }

    impl Exchange {
        fn invalid(&self, detail: impl Into<String>) -> HttpError {
            HttpError::InvalidRequest {
                url: self.url.clone(),
                detail: detail.into(),
            }
        }

        fn other(&self, detail: impl Into<String>) -> HttpError {
            HttpError::Other {
                url: self.url.clone(),
                detail: detail.into(),
            }
        }

        /// Blocks until `pollable` is ready; fails once the deadline passes.
        fn wait(&self, pollable: &Pollable, step: &str) -> Result<(), HttpError> {
            if pollable.ready() {
                return Ok(());
            }
            let timer = monotonic_clock::subscribe_instant(self.deadline);
            if poll(&[pollable, &timer]).contains(&0) {
                Ok(())
            } else {
                Err(HttpError::Timeout {
                    url: self.url.clone(),
                    detail: format!("deadline passed while {step}"),
                })
            }
        }

        fn stream_error(&self, e: StreamError) -> HttpError {
            match e {
                StreamError::Closed => self.other("connection closed unexpectedly"),
                StreamError::LastOperationFailed(err) => match wt::http_error_code(&err) {
                    Some(code) => from_code(&self.url, code),
                    None => self.other(err.to_debug_string()),
                },
            }
        }
    }

    pub(crate) fn send(mut request: Request) -> Result<Response, HttpError> {
        let body = std::mem::take(&mut request.body);
        send_borrowed(request, &body)
    }

    pub(crate) fn send_borrowed(request: Request, body: &[u8]) -> Result<Response, HttpError> {
        start(request, body).and_then(complete)
    }

    /// Starts every request before waiting for any, so the host works on them concurrently.
    pub(crate) fn send_all(requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
        let started: Vec<_> = requests
            .into_iter()
            .map(|mut request| {
                let body = std::mem::take(&mut request.body);
                start(request, &body)
            })
            .collect();
        started.into_iter().map(|s| s.and_then(complete)).collect()
    }

    /// A request whose head and body are handed to the host; the response may still be due.
    struct InFlight {
        ex: Exchange,
        future: FutureIncomingResponse,
        max_response_bytes: usize,
    }

    fn start(request: Request, body_bytes: &[u8]) -> Result<InFlight, HttpError> {
        let timeout_ns = u64::try_from(request.timeout.as_nanos()).unwrap_or(u64::MAX);
        let ex = Exchange {
            url: request.url.clone(),
            deadline: monotonic_clock::now().saturating_add(timeout_ns),
        };
        let target = url::parse(&request.url).map_err(|d| ex.invalid(d))?;
        let wire_headers = request.wire_headers(body_bytes);
        let headers = Fields::from_list(&wire_headers)
            .map_err(|e| ex.invalid(header_problem(&wire_headers, e)))?;

        let outgoing = OutgoingRequest::new(headers);
        let scheme = match target.scheme {
            Scheme::Http => wt::Scheme::Http,
            Scheme::Https => wt::Scheme::Https,
        };
        outgoing
            .set_method(&method(request.method))
            .map_err(|()| ex.invalid("method rejected"))?;
        outgoing
            .set_scheme(Some(&scheme))
            .map_err(|()| ex.invalid("scheme rejected"))?;
        outgoing
            .set_authority(Some(&target.authority))
            .map_err(|()| ex.invalid("host rejected"))?;
        outgoing
            .set_path_with_query(Some(&target.path_with_query))
            .map_err(|()| ex.invalid("path rejected"))?;
        let body = outgoing
            .body()
            .map_err(|()| ex.other("request body unavailable"))?;

        let options = RequestOptions::new();
        // Best effort: a host without one of these still has our own deadline.
        let _ = options.set_connect_timeout(Some(timeout_ns));
        let _ = options.set_first_byte_timeout(Some(timeout_ns));
        let _ = options.set_between_bytes_timeout(Some(timeout_ns));

        let future = outgoing_handler::handle(outgoing, Some(options))
            .map_err(|code| from_code(&ex.url, code))?;
        // A write error is not final: a server may answer before reading the whole body
        // (e.g. 401, 413), and a failed connection explains itself through the future.
        let _ = write_body(&ex, body, body_bytes);
        Ok(InFlight {
            ex,
            future,
            max_response_bytes: request.max_response_bytes,
        })
    }

    fn complete(flight: InFlight) -> Result<Response, HttpError> {
        let response = await_response(&flight.ex, &flight.future)?;
        read_response(&flight.ex, response, flight.max_response_bytes)
    }

    fn method(m: Method) -> wt::Method {
        match m {
            Method::Get => wt::Method::Get,
            Method::Head => wt::Method::Head,
            Method::Post => wt::Method::Post,
            Method::Put => wt::Method::Put,
            Method::Patch => wt::Method::Patch,
            Method::Delete => wt::Method::Delete,
            Method::Options => wt::Method::Options,
        }
    }

    /// `from-list` does not say which header it refused; find it to name it.
    fn header_problem(headers: &[(String, Vec<u8>)], e: wt::HeaderError) -> String {
        let culprit = headers
            .iter()
            .find(|h| Fields::from_list(std::slice::from_ref(*h)).is_err());
        let reason = match e {
            wt::HeaderError::Forbidden => "is not allowed by the host",
            _ => "has an invalid name or value",
        };
        match culprit {
            Some((name, _)) => format!("header `{name}` {reason}"),
            None => format!("a header {reason}"),
        }
    }

    fn write_body(ex: &Exchange, body: OutgoingBody, bytes: &[u8]) -> Result<(), HttpError> {
        {
            // The stream is a child of the body and must be dropped before `finish`.
            let stream = body
                .write()
                .map_err(|()| ex.other("request body stream unavailable"))?;
            let mut rest = bytes;
            while !rest.is_empty() {
                let permit = stream.check_write().map_err(|e| ex.stream_error(e))?;
                if permit == 0 {
                    ex.wait(&stream.subscribe(), "sending the request body")?;
                    continue;
                }
                let n = usize::try_from(permit)
                    .unwrap_or(usize::MAX)
                    .min(rest.len());
                let (chunk, tail) = rest.split_at(n);
                stream.write(chunk).map_err(|e| ex.stream_error(e))?;
                rest = tail;
            }
            stream.flush().map_err(|e| ex.stream_error(e))?;
            // check-write reports 0 until the flush has completed.
            while stream.check_write().map_err(|e| ex.stream_error(e))? == 0 {
                ex.wait(&stream.subscribe(), "sending the request body")?;
            }
        }
        OutgoingBody::finish(body, None).map_err(|code| from_code(&ex.url, code))
    }

    fn await_response(
        ex: &Exchange,
        future: &FutureIncomingResponse,
    ) -> Result<IncomingResponse, HttpError> {
        ex.wait(&future.subscribe(), "waiting for the response")?;
        match future.get() {
            Some(Ok(Ok(response))) => Ok(response),
            Some(Ok(Err(code))) => Err(from_code(&ex.url, code)),
            Some(Err(())) => Err(ex.other("response already taken")),
            None => Err(ex.other("response not ready after its pollable fired")),
        }
    }

    fn read_response(
        ex: &Exchange,
        response: IncomingResponse,
        limit: usize,
    ) -> Result<Response, HttpError> {
        let status = response.status();
        let headers = response.headers().entries();
        let body: IncomingBody = response
            .consume()
            .map_err(|()| ex.other("response body unavailable"))?;
        let mut data = Vec::new();
        let mut truncated = false;
        {
            let stream = body
                .stream()
                .map_err(|()| ex.other("response body stream unavailable"))?;
            loop {
                // Asking for one byte past the limit tells a cut body from an exact fit.
                let want = (limit - data.len()).saturating_add(1).min(READ_CHUNK);
                match stream.read(want as u64) {
                    Ok(chunk) if chunk.is_empty() => {
                        ex.wait(&stream.subscribe(), "reading the response body")?
                    }
                    Ok(chunk) => {
                        data.extend_from_slice(&chunk);
                        if data.len() > limit {
                            data.truncate(limit);
                            truncated = true;
                            break;
                        }
                    }
                    Err(StreamError::Closed) => break,
                    Err(e) => return Err(ex.stream_error(e)),
                }
            }
        }
        if !truncated {
            // Trailers are not exposed; finishing tells the host the body was read in full.
            drop(IncomingBody::finish(body));
        }
        Ok(Response {
            status,
            headers,
            body: data,
            truncated,
        })
    }
}
