//! OTLP/gRPC: `TraceService/Export` and `LogsService/Export`, authenticated by the same API
//! keys (`authorization: Bearer <key>` metadata) and routed by the same headers.
//!
//! Status codes follow what exporters retry: bad data is `INVALID_ARGUMENT` (final),
//! back-pressure `UNAVAILABLE` (retried), oversize `RESOURCE_EXHAUSTED`.

use super::{export_logs, export_traces};
use crate::state::AppState;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use spanloom_model::AuthContext;
use spanloom_otlp::route::RequestRoute;
use spanloom_store::StoreError;
use spanloom_store::auth::hash_api_key;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

/// The error a gRPC server ends with.
pub use tonic::transport::Error as TransportError;

/// The OTLP gRPC services over the app state.
#[derive(Clone)]
pub struct OtlpGrpc {
    state: AppState,
}

fn store_status(e: StoreError) -> Status {
    match e {
        StoreError::Overloaded | StoreError::ShuttingDown => Status::unavailable(e.to_string()),
        StoreError::UnknownObject(_) | StoreError::NotFound(_) => Status::not_found(e.to_string()),
        other => Status::internal(other.to_string()),
    }
}

impl OtlpGrpc {
    async fn authenticate(&self, metadata: &MetadataMap) -> Result<AuthContext, Status> {
        let value = metadata.get("authorization").ok_or_else(|| {
            Status::unauthenticated("missing `authorization: Bearer <api key>` metadata")
        })?;
        let value = value
            .to_str()
            .map_err(|_| Status::unauthenticated("the authorization metadata is not valid text"))?;
        let key = crate::auth::bearer_key(value).map_err(Status::unauthenticated)?;
        self.state
            .store
            .authenticate(&hash_api_key(key))
            .await
            .map_err(store_status)?
            .ok_or_else(|| Status::unauthenticated("invalid or revoked API key"))
    }

    fn route(metadata: &MetadataMap) -> Result<RequestRoute, Status> {
        let text = |name: &str| metadata.get(name).and_then(|v| v.to_str().ok());
        RequestRoute::from_headers(text("x-bt-parent"), text("x-project-name"))
            .map_err(Status::invalid_argument)
    }
}

#[tonic::async_trait]
impl TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let ctx = self.authenticate(request.metadata()).await?;
        let route =
            Self::route(request.metadata())?.with_default_project(ctx.default_project.clone());
        let outcome = export_traces(&self.state, &ctx, &route, request.get_ref())
            .await
            .map_err(store_status)?;
        metrics::counter!("spanloom_http_requests_total", "route" => "grpc TraceService/Export", "method" => "POST", "status" => "200").increment(1);
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (outcome.rejected > 0).then_some(ExportTracePartialSuccess {
                rejected_spans: outcome.rejected,
                error_message: outcome.message,
            }),
        }))
    }
}

#[tonic::async_trait]
impl LogsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let ctx = self.authenticate(request.metadata()).await?;
        let route =
            Self::route(request.metadata())?.with_default_project(ctx.default_project.clone());
        let outcome = export_logs(&self.state, &ctx, &route, request.get_ref())
            .await
            .map_err(store_status)?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: (outcome.rejected > 0).then_some(ExportLogsPartialSuccess {
                rejected_log_records: outcome.rejected,
                error_message: outcome.message,
            }),
        }))
    }
}

/// Serves OTLP/gRPC on a listener until `shutdown` resolves. Messages are limited to the
/// API's `max_body_bytes` (decompressed); gzip and zstd requests are accepted.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let limit = state.config.max_body_bytes;
    let svc = OtlpGrpc { state };
    let traces = TraceServiceServer::new(svc.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    let logs = LogsServiceServer::new(svc)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(limit);
    tonic::transport::Server::builder()
        .add_service(traces)
        .add_service(logs)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await
}
