//! The setup every sink test starts from: a broker, a fresh topic (created by a producer, as
//! Danube requires before anyone subscribes), and the host running a component on it, ready.

use super::{Danube, HostProcess, HostSpec, paths, unique_topic};
use danube_client::Producer;
use std::time::Duration;

pub struct Pipeline {
    pub danube: Danube,
    pub topic: String,
    pub producer: Producer,
    pub host: HostProcess,
}

impl Pipeline {
    /// `component` is a guest crate's library name (`sink_http`); `extra` is added to the
    /// generated config (`[runtime]`, `[capabilities.*]`, `[config]`).
    pub async fn start(name: &str, component: &str, extra: &str) -> Self {
        let danube = Danube::start().await;
        Self::start_on(danube, name, component, extra).await
    }

    pub async fn start_on(danube: Danube, name: &str, component: &str, extra: &str) -> Self {
        let spec = HostSpec::sink(
            name,
            paths::component(component),
            &unique_topic(name),
            extra,
        );
        Self::launch(danube, spec, &[]).await
    }

    /// Full control: any spec (its first topic is created here) and extra host arguments such
    /// as `--watch`.
    pub async fn launch(danube: Danube, spec: HostSpec, args: &[&str]) -> Self {
        let topic = spec.topics.first().expect("a spec with a topic").clone();
        let producer = danube.producer(&topic).await;
        let mut host = HostProcess::start_with_args(spec, danube.url(), args);
        assert!(
            host.wait_ready(Duration::from_secs(30)).await,
            "host not ready:\n{}",
            host.log()
        );
        Self {
            danube,
            topic,
            producer,
            host,
        }
    }

    /// The default dead-letter topic of this pipeline, created and subscribed to, so nothing
    /// dead-lettered later is missed.
    pub async fn dead_letters(
        &self,
    ) -> (
        Producer,
        danube_client::Consumer,
        tokio::sync::mpsc::Receiver<danube_core::message::StreamMessage>,
    ) {
        let dlq = format!("{}-dlq", self.topic);
        let producer = self.danube.producer(&dlq).await;
        let (consumer, rx) = self.danube.subscribe(&dlq, "dlq-reader").await;
        (producer, consumer, rx)
    }
}
