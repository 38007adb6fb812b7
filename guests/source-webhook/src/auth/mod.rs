//! Who may post to a route: the verifiers behind a route's `auth`. Each answers a request
//! with `Ok` or the short reason of its 401; reasons never contain a secret.

mod bearer;
mod github;
mod key;
mod standard_webhooks;
mod stripe;
mod timestamp;

pub use bearer::Bearer;
pub use github::Github;
pub use key::Key;
pub use standard_webhooks::StandardWebhooks;
pub use stripe::Stripe;
pub use timestamp::Tolerance;

use danube_connect_sdk::inbound_http::Request;

#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer(Bearer),
    StandardWebhooks(StandardWebhooks),
    Github(Github),
    Stripe(Stripe),
}

impl Auth {
    pub fn verify(&self, request: &Request) -> Result<(), String> {
        match self {
            Auth::None => Ok(()),
            Auth::Bearer(v) => v.verify(request),
            Auth::StandardWebhooks(v) => v.verify(request),
            Auth::Github(v) => v.verify(request),
            Auth::Stripe(v) => v.verify(request),
        }
    }

    /// The `www-authenticate` value a 401 carries, where the scheme defines one.
    pub fn challenge(&self) -> Option<&'static str> {
        match self {
            Auth::Bearer(_) => Some("Bearer"),
            _ => None,
        }
    }
}

/// The value of header `name`, or the reason of a 401 when it is absent.
fn required<'r>(request: &'r Request, name: &str) -> Result<&'r str, String> {
    request
        .header(name)
        .ok_or_else(|| format!("missing {name} header"))
}
