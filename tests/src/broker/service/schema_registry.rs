//! The schema registry RPCs clients use: register, look up by id or subject, list versions,
//! check compatibility and set a subject's mode. Errors are worded and coded as the real
//! broker's.

use crate::broker::locks::lock;
use crate::broker::schemas::{self, Mode, Registration, Registry, Subject, Version};
use crate::broker::state::BrokerState;
use danube_core::proto::danube_schema::schema_registry_server::SchemaRegistry;
use danube_core::proto::danube_schema::{
    CheckCompatibilityRequest, CheckCompatibilityResponse, ConfigureTopicSchemaRequest,
    ConfigureTopicSchemaResponse, DeleteSchemaVersionRequest, DeleteSchemaVersionResponse,
    GetLatestSchemaRequest, GetSchemaRequest, GetSchemaResponse, GetTopicSchemaConfigRequest,
    GetTopicSchemaConfigResponse, ListSubjectsRequest, ListSubjectsResponse, ListVersionsRequest,
    ListVersionsResponse, RegisterSchemaRequest, RegisterSchemaResponse, SchemaVersionInfo,
    SetCompatibilityModeRequest, SetCompatibilityModeResponse, SubjectSummary,
    UpdateTopicValidationPolicyRequest, UpdateTopicValidationPolicyResponse,
};
use std::sync::{Arc, MutexGuard};
use tonic::{Request, Response, Status};

pub(crate) struct SchemaHandler {
    state: Arc<BrokerState>,
}

impl SchemaHandler {
    pub(crate) fn new(state: &Arc<BrokerState>) -> Self {
        Self {
            state: Arc::clone(state),
        }
    }

    fn registry(&self) -> Result<MutexGuard<'_, Registry>, Status> {
        self.state.check_serving()?;
        Ok(lock(self.state.schemas()))
    }
}

fn answer(subject: &str, s: &Subject, v: &Version) -> GetSchemaResponse {
    GetSchemaResponse {
        schema_id: s.id,
        version: v.version,
        subject: subject.to_owned(),
        schema_type: v.kind.clone(),
        schema_definition: v.wire_definition(),
        description: v.description.clone(),
        created_at: v.created_at,
        created_by: v.created_by.clone(),
        tags: v.tags.clone(),
        fingerprint: v.fingerprint.clone(),
        compatibility_mode: s.mode.name().to_owned(),
    }
}

fn no_subject(subject: &str) -> Status {
    Status::not_found(format!("Subject '{subject}' not found"))
}

#[tonic::async_trait]
impl SchemaRegistry for SchemaHandler {
    async fn register_schema(
        &self,
        request: Request<RegisterSchemaRequest>,
    ) -> Result<Response<RegisterSchemaResponse>, Status> {
        let req = request.into_inner();
        let registered = self
            .registry()?
            .register(Registration {
                subject: &req.subject,
                kind: &req.schema_type,
                definition: &req.schema_definition,
                created_by: req.created_by,
                description: req.description,
                tags: req.tags,
            })
            .map_err(|e| Status::internal(format!("Failed to register schema: {e}")))?;
        Ok(Response::new(RegisterSchemaResponse {
            schema_id: registered.id,
            version: registered.version,
            is_new_version: registered.new,
            fingerprint: registered.fingerprint,
        }))
    }

    async fn get_schema(
        &self,
        request: Request<GetSchemaRequest>,
    ) -> Result<Response<GetSchemaResponse>, Status> {
        let req = request.into_inner();
        let registry = self.registry()?;
        let not_found = || Status::not_found(format!("Schema not found for ID: {}", req.schema_id));
        let (name, subject) = registry.by_id(req.schema_id).ok_or_else(not_found)?;
        let version = match req.version {
            Some(n) => subject.version(n),
            None => subject.latest(),
        }
        .ok_or_else(not_found)?;
        Ok(Response::new(answer(name, subject, version)))
    }

    async fn get_latest_schema(
        &self,
        request: Request<GetLatestSchemaRequest>,
    ) -> Result<Response<GetSchemaResponse>, Status> {
        let req = request.into_inner();
        let registry = self.registry()?;
        let subject = registry
            .subject(&req.subject)
            .ok_or_else(|| no_subject(&req.subject))?;
        let latest = subject.latest().ok_or_else(|| no_subject(&req.subject))?;
        Ok(Response::new(answer(&req.subject, subject, latest)))
    }

    async fn list_versions(
        &self,
        request: Request<ListVersionsRequest>,
    ) -> Result<Response<ListVersionsResponse>, Status> {
        let req = request.into_inner();
        let registry = self.registry()?;
        let subject = registry
            .subject(&req.subject)
            .ok_or_else(|| no_subject(&req.subject))?;
        let versions = subject
            .versions
            .iter()
            .map(|v| SchemaVersionInfo {
                version: v.version,
                created_at: v.created_at,
                created_by: v.created_by.clone(),
                description: v.description.clone(),
                fingerprint: v.fingerprint.clone(),
                schema_id: subject.id,
            })
            .collect();
        Ok(Response::new(ListVersionsResponse { versions }))
    }

    async fn check_compatibility(
        &self,
        request: Request<CheckCompatibilityRequest>,
    ) -> Result<Response<CheckCompatibilityResponse>, Status> {
        let req = request.into_inner();
        let registry = self.registry()?;
        let subject = registry
            .subject(&req.subject)
            .ok_or_else(|| no_subject(&req.subject))?;
        let mode = match req.compatibility_mode.as_deref() {
            Some(m) => Mode::parse(m).ok_or_else(|| {
                Status::invalid_argument(format!("Invalid compatibility mode: {m}"))
            })?,
            None => subject.mode,
        };
        let errors = subject.latest().map_or_else(Vec::new, |latest| {
            schemas::incompatibilities(latest, &req.schema_type, &req.new_schema_definition, mode)
        });
        Ok(Response::new(CheckCompatibilityResponse {
            is_compatible: errors.is_empty(),
            errors,
        }))
    }

    async fn delete_schema_version(
        &self,
        _request: Request<DeleteSchemaVersionRequest>,
    ) -> Result<Response<DeleteSchemaVersionResponse>, Status> {
        Err(Status::unimplemented("not offered by the test broker"))
    }

    async fn set_compatibility_mode(
        &self,
        request: Request<SetCompatibilityModeRequest>,
    ) -> Result<Response<SetCompatibilityModeResponse>, Status> {
        let req = request.into_inner();
        let mode = Mode::parse(&req.compatibility_mode).ok_or_else(|| {
            Status::invalid_argument(format!(
                "Invalid compatibility mode: {}",
                req.compatibility_mode
            ))
        })?;
        let mut registry = self.registry()?;
        let subject = registry
            .subject_mut(&req.subject)
            .ok_or_else(|| no_subject(&req.subject))?;
        subject.mode = mode;
        Ok(Response::new(SetCompatibilityModeResponse {
            success: true,
            message: format!(
                "compatibility mode of '{}' set to {}",
                req.subject,
                mode.name()
            ),
        }))
    }

    async fn configure_topic_schema(
        &self,
        _request: Request<ConfigureTopicSchemaRequest>,
    ) -> Result<Response<ConfigureTopicSchemaResponse>, Status> {
        Err(Status::unimplemented("not offered by the test broker"))
    }

    async fn update_topic_validation_policy(
        &self,
        _request: Request<UpdateTopicValidationPolicyRequest>,
    ) -> Result<Response<UpdateTopicValidationPolicyResponse>, Status> {
        Err(Status::unimplemented("not offered by the test broker"))
    }

    async fn get_topic_schema_config(
        &self,
        _request: Request<GetTopicSchemaConfigRequest>,
    ) -> Result<Response<GetTopicSchemaConfigResponse>, Status> {
        Err(Status::unimplemented("not offered by the test broker"))
    }

    async fn list_subjects(
        &self,
        _request: Request<ListSubjectsRequest>,
    ) -> Result<Response<ListSubjectsResponse>, Status> {
        let registry = self.registry()?;
        let subjects = registry
            .subjects()
            .filter_map(|(name, s)| {
                let latest = s.latest()?;
                Some(SubjectSummary {
                    subject: name.clone(),
                    schema_type: latest.kind.clone(),
                    latest_version: latest.version,
                    compatibility_mode: s.mode.name().to_ascii_uppercase(),
                    schema_id: s.id,
                    tags: latest.tags.clone(),
                })
            })
            .collect();
        Ok(Response::new(ListSubjectsResponse { subjects }))
    }
}
