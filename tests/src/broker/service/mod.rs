//! The gRPC services danube-client talks to.

mod consumer;
mod discovery;
mod health;
mod producer;
mod schema_registry;

use super::state::BrokerState;
use danube_core::proto::consumer_service_server::ConsumerServiceServer;
use danube_core::proto::danube_schema::schema_registry_server::SchemaRegistryServer;
use danube_core::proto::discovery_server::DiscoveryServer;
use danube_core::proto::health_check_server::HealthCheckServer;
use danube_core::proto::producer_service_server::ProducerServiceServer;
use std::sync::Arc;
use tonic::service::Routes;

/// All services, routed by gRPC path.
pub(crate) fn routes(state: &Arc<BrokerState>) -> Routes {
    Routes::new(ProducerServiceServer::new(producer::ProducerHandler::new(
        state,
    )))
    .add_service(ConsumerServiceServer::new(consumer::ConsumerHandler::new(
        state,
    )))
    .add_service(DiscoveryServer::new(discovery::DiscoveryHandler::new(
        state,
    )))
    .add_service(HealthCheckServer::new(health::HealthHandler::new(state)))
    .add_service(SchemaRegistryServer::new(
        schema_registry::SchemaHandler::new(state),
    ))
}
