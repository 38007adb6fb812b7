//! The configured routes and how a request finds its own: by exact path, then by method.

use crate::auth::Auth;
use crate::split::Format;

#[derive(Debug, Clone)]
pub struct Route {
    pub path: String,
    pub topic: String,
    /// Upper case, e.g. `POST`.
    pub methods: Vec<String>,
    pub auth: Auth,
    pub format: Format,
    /// Lower case; `None` tries the usual idempotency headers.
    pub key_header: Option<String>,
    /// Lower case.
    pub forward_headers: Vec<String>,
    pub max_records: usize,
}

impl Route {
    /// Methods are case-sensitive in HTTP, so `post` is not `POST`.
    pub fn allows(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
    }

    /// The `allow` header of a 405.
    pub fn allow_header(&self) -> String {
        self.methods.join(", ")
    }
}

#[derive(Debug, Clone)]
pub struct Routes(Vec<Route>);

impl Routes {
    pub fn new(routes: Vec<Route>) -> Self {
        Routes(routes)
    }

    /// The route for `path` (without its query), matched exactly.
    pub fn find(&self, path: &str) -> Option<&Route> {
        self.0.iter().find(|r| r.path == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str, methods: &[&str]) -> Route {
        Route {
            path: path.into(),
            topic: "/default/t".into(),
            methods: methods.iter().map(|m| (*m).to_string()).collect(),
            auth: Auth::None,
            format: Format::Raw,
            key_header: None,
            forward_headers: Vec::new(),
            max_records: 10,
        }
    }

    #[test]
    fn paths_match_exactly() {
        let routes = Routes::new(vec![route("/a", &["POST"]), route("/a/b", &["POST"])]);
        assert_eq!(routes.find("/a/b").map(|r| r.path.as_str()), Some("/a/b"));
        assert_eq!(routes.find("/a").map(|r| r.path.as_str()), Some("/a"));
        for other in ["/a/", "/A", "/", "/a/b/c", ""] {
            assert!(routes.find(other).is_none(), "{other}");
        }
    }

    #[test]
    fn methods_match_exactly_and_list_for_allow() {
        let r = route("/a", &["POST", "PUT"]);
        assert!(r.allows("PUT"));
        assert!(!r.allows("GET"));
        assert!(!r.allows("post"));
        assert_eq!(r.allow_header(), "POST, PUT");
    }
}
