use thiserror::Error;

#[derive(Debug, Error)]
pub enum SchemaError {
    /// The registry answered and said no (an incompatible version, an unknown subject): no
    /// retry changes that, so the connector stops with the registry's words.
    #[error("the schema registry refused {what}: {message}")]
    Refused { what: String, message: String },
    /// The registry could not be reached; worth another try.
    #[error("cannot reach the schema registry for {what}: {message}")]
    Unavailable { what: String, message: String },
    /// A definition this host cannot check records against.
    #[error("schema {subject}: {message}")]
    Definition { subject: String, message: String },
}

impl SchemaError {
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}
