//! librdkafka's errors, sorted into what the connector can act on: the grant, the cluster's
//! refusal, the network (retry), bad options, or a record the cluster will never take.

use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode as Code};

#[derive(Debug, Clone, thiserror::Error)]
pub enum KafkaError {
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Connection(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Failure(Failure),
}

/// One record's or one request's failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message} ({code})")]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub permanent: bool,
}

/// Sending the same record again cannot help.
fn permanent(code: Code) -> bool {
    matches!(
        code,
        Code::MessageSizeTooLarge
            | Code::MessageBatchTooLarge
            | Code::InvalidMessage
            | Code::InvalidMessageSize
            | Code::InvalidRecord
            | Code::InvalidTopic
            | Code::TopicAuthorizationFailed
            | Code::ClusterAuthorizationFailed
    )
}

fn refusal(code: Code) -> bool {
    matches!(
        code,
        Code::Authentication
            | Code::SaslAuthenticationFailed
            | Code::TopicAuthorizationFailed
            | Code::GroupAuthorizationFailed
            | Code::ClusterAuthorizationFailed
    )
}

impl Failure {
    pub fn of(e: &RdError) -> Self {
        let code = e.rdkafka_error_code();
        Failure {
            code: code.map_or_else(|| "Unknown".into(), |c| format!("{c:?}")),
            message: e.to_string(),
            permanent: code.is_some_and(permanent),
        }
    }

    pub fn unknown_topic(topic: &str) -> Self {
        Failure {
            code: format!("{:?}", Code::UnknownTopicOrPartition),
            message: format!("topic {topic} does not exist on the cluster; create it first"),
            permanent: true,
        }
    }
}

impl From<RdError> for KafkaError {
    fn from(e: RdError) -> Self {
        match &e {
            RdError::ClientConfig(..) | RdError::ClientCreation(_) | RdError::Subscription(_) => {
                KafkaError::Invalid(e.to_string())
            }
            _ => match e.rdkafka_error_code() {
                Some(code) if refusal(code) => KafkaError::Refused(e.to_string()),
                Some(
                    Code::MessageTimedOut
                    | Code::AllBrokersDown
                    | Code::BrokerTransportFailure
                    | Code::OperationTimedOut
                    | Code::RequestTimedOut
                    | Code::NetworkException
                    | Code::Resolve
                    | Code::CoordinatorNotAvailable
                    | Code::NotCoordinator
                    | Code::CoordinatorLoadInProgress,
                ) => KafkaError::Connection(e.to_string()),
                _ => KafkaError::Failure(Failure::of(&e)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_record_is_permanent_a_timeout_is_not() {
        let big = Failure::of(&RdError::MessageProduction(Code::MessageSizeTooLarge));
        assert!(big.permanent);
        assert_eq!(big.code, "MessageSizeTooLarge");
        let late = Failure::of(&RdError::MessageProduction(Code::MessageTimedOut));
        assert!(!late.permanent);
        assert!(matches!(
            KafkaError::from(RdError::MessageProduction(Code::MessageTimedOut)),
            KafkaError::Connection(_)
        ));
        assert!(matches!(
            KafkaError::from(RdError::Global(Code::SaslAuthenticationFailed)),
            KafkaError::Refused(_)
        ));
    }
}
