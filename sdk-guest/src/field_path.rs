//! A field of a JSON document named the way connector options name it, with dots
//! (`order.customer.id`), looked up as a JSON Pointer.

use serde_json::Value;

/// A dotted path with no empty part; each part is one object key, or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    /// The same path as a JSON Pointer (RFC 6901), `/order/customer/id`.
    pointer: String,
}

/// A dotted path with an empty part: `a..b`, `.a`, `a.` or nothing at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a dotted path like `order.customer.id`")]
pub struct FieldPathError(pub String);

impl FieldPath {
    /// Parses `order.customer.id`. A part may hold any character but `.`; `/` and `~` are
    /// escaped, so they stay part of a key.
    pub fn parse(dotted: &str) -> Result<Self, FieldPathError> {
        let mut pointer = String::with_capacity(dotted.len() + 1);
        for part in dotted.split('.') {
            if part.is_empty() {
                return Err(FieldPathError(dotted.to_string()));
            }
            pointer.push('/');
            pointer.push_str(&part.replace('~', "~0").replace('/', "~1"));
        }
        Ok(FieldPath { pointer })
    }

    /// The value at this path, if every part exists.
    pub fn get<'v>(&self, document: &'v Value) -> Option<&'v Value> {
        document.pointer(&self.pointer)
    }

    /// The path as a JSON Pointer.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_nested_objects() {
        let doc =
            json!({"order": {"customer": {"id": 7}, "a/b": 1, "t~": 2}, "items": [{"sku": "x"}]});
        let get = |p: &str| FieldPath::parse(p).unwrap().get(&doc).cloned();
        assert_eq!(get("order.customer.id"), Some(json!(7)));
        assert_eq!(get("order.customer"), Some(json!({"id": 7})));
        assert_eq!(get("order.a/b"), Some(json!(1)));
        assert_eq!(get("order.t~"), Some(json!(2)));
        assert_eq!(get("items.0.sku"), Some(json!("x")));
        assert_eq!(get("order.missing"), None);
        assert_eq!(get("order.customer.id.deeper"), None);
        assert_eq!(
            FieldPath::parse("order.customer.id").unwrap().pointer(),
            "/order/customer/id"
        );
    }

    #[test]
    fn rejects_empty_parts() {
        for bad in ["", "a..b", ".a", "a."] {
            assert_eq!(
                FieldPath::parse(bad),
                Err(FieldPathError(bad.to_string())),
                "{bad}"
            );
        }
    }
}
