//! Topic names across the bridge: ordered rules, each a regular expression on the source
//! side's topic and a template for the other side's name. The first rule that matches wins.
//!
//! Templates take `$1`/`${1}` (captures), `${topic}` (the whole source name) and `${name}` (its
//! last `/` segment: a Danube topic without its namespace). The result is made a valid name on
//! its side: Danube allows letters, digits, `_` and `-` in `/namespace/topic`, Kafka also `.`;
//! anything else becomes `_` (so Kafka's `orders.v1` is Danube's `orders_v1`).

use regex_lite::Regex;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Regular expression on the source topic; absent: every topic.
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    pub to: String,
}

/// Which side the names are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Danube,
    Kafka,
}

#[derive(Debug)]
struct Rule {
    pattern: Option<Regex>,
    to: String,
}

#[derive(Debug)]
pub struct Routes {
    rules: Vec<Rule>,
    target: Target,
    /// Source topic → its mapped name (or why it has none).
    cache: HashMap<String, Result<String, String>>,
}

impl Routes {
    /// `key` names the option in errors; `fallback` is the template used when no rule is given.
    pub fn new(raw: Vec<RawRoute>, fallback: String, target: Target) -> Result<Self, String> {
        let raw = if raw.is_empty() {
            vec![RawRoute {
                pattern: None,
                to: fallback,
            }]
        } else {
            raw
        };
        let mut rules = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let pattern = match &r.pattern {
                Some(p) => Some(Regex::new(p).map_err(|e| {
                    format!("routes[{i}].match: `{p}` is not a valid regular expression: {e}")
                })?),
                None => None,
            };
            if r.to.trim().is_empty() {
                return Err(format!("routes[{i}].to: empty"));
            }
            rules.push(Rule { pattern, to: r.to });
        }
        Ok(Self {
            rules,
            target,
            cache: HashMap::new(),
        })
    }

    /// The name `topic` maps to, or why it maps to none.
    pub fn map(&mut self, topic: &str) -> Result<String, String> {
        if let Some(hit) = self.cache.get(topic) {
            return hit.clone();
        }
        let mapped = self.compute(topic);
        self.cache.insert(topic.to_string(), mapped.clone());
        mapped
    }

    fn compute(&self, topic: &str) -> Result<String, String> {
        let name = topic.rsplit('/').next().unwrap_or(topic);
        for rule in &self.rules {
            let template = rule.to.replace("${topic}", topic).replace("${name}", name);
            let rendered = match &rule.pattern {
                None => template,
                Some(re) => match re.captures(topic) {
                    None => continue,
                    Some(caps) => {
                        let mut out = String::new();
                        caps.expand(&template, &mut out);
                        out
                    }
                },
            };
            return match self.target {
                Target::Danube => danube_name(&rendered),
                Target::Kafka => kafka_name(&rendered),
            }
            .map_err(|why| format!("topic {topic} maps to `{rendered}`, {why}"));
        }
        Err(format!("no route matches topic {topic}"))
    }
}

fn clean(s: &str, keep: impl Fn(char) -> bool) -> String {
    s.chars().map(|c| if keep(c) { c } else { '_' }).collect()
}

/// `/namespace/topic`, each part cleaned; a name without a namespace goes to `default`.
fn danube_name(s: &str) -> Result<String, String> {
    let parts: Vec<&str> = s.trim_start_matches('/').split('/').collect();
    let (namespace, topic) = match parts.as_slice() {
        [topic] => ("default", *topic),
        [namespace, topic] => (*namespace, *topic),
        _ => return Err("not /namespace/topic".into()),
    };
    if namespace.is_empty() || topic.is_empty() {
        return Err("not /namespace/topic".into());
    }
    let keep = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    Ok(format!(
        "/{}/{}",
        clean(namespace, keep),
        clean(topic, keep)
    ))
}

fn kafka_name(s: &str) -> Result<String, String> {
    let name = s.trim_start_matches('/');
    if name.is_empty() || name.len() > 249 {
        return Err("a Kafka topic name must be 1 to 249 characters".into());
    }
    Ok(clean(name, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(pattern: Option<&str>, to: &str) -> RawRoute {
        RawRoute {
            pattern: pattern.map(str::to_string),
            to: to.into(),
        }
    }

    #[test]
    fn identity_prefix_and_captures() {
        let mut identity = Routes::new(vec![], "/default/${topic}".into(), Target::Danube).unwrap();
        assert_eq!(identity.map("orders.v1").unwrap(), "/default/orders_v1");
        let mut prefix =
            Routes::new(vec![], "/legacy/kafka-${topic}".into(), Target::Danube).unwrap();
        assert_eq!(prefix.map("payments").unwrap(), "/legacy/kafka-payments");
        let mut regex = Routes::new(
            vec![
                route(Some(r"^shop\.(\w+)\.events$"), "/shop/${1}-events"),
                route(None, "/default/other-${topic}"),
            ],
            String::new(),
            Target::Danube,
        )
        .unwrap();
        assert_eq!(regex.map("shop.cart.events").unwrap(), "/shop/cart-events");
        assert_eq!(regex.map("x").unwrap(), "/default/other-x");
    }

    #[test]
    fn danube_topics_map_back_by_name() {
        let mut out = Routes::new(vec![], "${name}".into(), Target::Kafka).unwrap();
        assert_eq!(out.map("/default/orders").unwrap(), "orders");
        let mut only = Routes::new(
            vec![route(Some("^/default/(.+)$"), "mirror.$1")],
            String::new(),
            Target::Kafka,
        )
        .unwrap();
        assert_eq!(only.map("/default/a").unwrap(), "mirror.a");
        let e = only.map("/other/a").expect_err("no rule");
        assert!(e.contains("/other/a"), "{e}");
    }

    #[test]
    fn bad_rules_and_names_are_named() {
        let e = Routes::new(
            vec![route(Some("(unclosed"), "x")],
            String::new(),
            Target::Kafka,
        )
        .expect_err("regex");
        assert!(e.starts_with("routes[0].match"), "{e}");
        let mut deep = Routes::new(vec![], "/a/b/${topic}".into(), Target::Danube).unwrap();
        assert!(deep.map("t").unwrap_err().contains("/namespace/topic"));
    }
}
