//! One danube-client per connector for all its producers, so their requests share a
//! connection (h2 then writes several in one syscall). A producer that fails discards the
//! client it was built on; the next one to ask builds a fresh one, as a broker restart needs.

use super::connection::{self, Broker, DanubeError, Timeouts};
use danube_client::DanubeClient;
use tokio::sync::Mutex;

pub struct SharedClient {
    broker: Broker,
    timeouts: Timeouts,
    current: Mutex<Current>,
}

#[derive(Default)]
struct Current {
    generation: u64,
    client: Option<DanubeClient>,
}

/// A client and the generation to name when discarding it.
pub struct Lease {
    pub client: DanubeClient,
    pub generation: u64,
}

impl SharedClient {
    pub fn new(broker: Broker, timeouts: Timeouts) -> Self {
        Self {
            broker,
            timeouts,
            current: Mutex::new(Current::default()),
        }
    }

    /// The current client, connecting first when there is none.
    pub async fn get(&self) -> Result<Lease, DanubeError> {
        let mut current = self.current.lock().await;
        let client = match &current.client {
            Some(client) => client.clone(),
            None => {
                let client = connection::connect(&self.broker, self.timeouts).await?;
                current.client = Some(client.clone());
                current.generation += 1;
                client
            }
        };
        Ok(Lease {
            client,
            generation: current.generation,
        })
    }

    /// Drop generation `generation` if it is still current; a later one stays.
    pub async fn discard(&self, generation: u64) {
        let mut current = self.current.lock().await;
        if current.generation == generation {
            current.client = None;
        }
    }
}
