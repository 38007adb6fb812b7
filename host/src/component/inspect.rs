//! `danube-connect-host inspect`: what a component is and what it would need granted.

use super::LoadedComponent;
use crate::capabilities::grants;
use std::fmt::Write;

pub fn describe(c: &LoadedComponent) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "component: {}", c.path.display());
    let _ = writeln!(out, "sha256:    {}", c.digest);
    let _ = writeln!(out, "world:     {}", c.roles.world());
    let _ = writeln!(out, "exports:");
    for e in &c.exports {
        let _ = writeln!(out, "  {e}");
    }
    let _ = writeln!(out, "imports:");
    for i in &c.imports {
        let grant = match grants::granting_key(i) {
            Some(key) => format!("needs [{key}]"),
            None => "always available".to_string(),
        };
        let _ = writeln!(out, "  {i:<48} {grant}");
    }
    out
}
