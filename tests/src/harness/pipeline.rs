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
        let topic = unique_topic(name);
        let producer = danube.producer(&topic).await;
        let spec = HostSpec::sink(name, paths::component(component), &topic, extra);
        let mut host = HostProcess::start(spec, danube.url());
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
