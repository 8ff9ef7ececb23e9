//! Telling HTTP/1 clients to close a connection whose request body was never read to its end.
//!
//! A handler may answer before reading the whole body (a 401 for a bad key, a 503 when too many
//! bytes are in flight, a body past the limit that could not be drained in time). hyper then
//! closes the connection without saying so, and a client that pooled it sends its next request
//! into a closed socket and gets "remote end closed connection without response". Saying
//! `Connection: close` makes it open a new one instead.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Adds `Connection: close` to an HTTP/1 answer given before its request body was read out.
pub async fn close_if_body_unread(request: Request, next: Next) -> Response {
    if !matches!(request.version(), Version::HTTP_10 | Version::HTTP_11) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let finished = Arc::new(AtomicBool::new(http_body::Body::is_end_stream(&body)));
    let body = Body::new(WatchedBody {
        inner: body,
        finished: finished.clone(),
    });
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if !finished.load(Ordering::Relaxed) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request body that records when it has been read to its end.
struct WatchedBody {
    inner: Body,
    finished: Arc<AtomicBool>,
}

impl http_body::Body for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.finished.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
