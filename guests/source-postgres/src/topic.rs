//! Where a table's changes go: the connector's default topic, or one topic per table from a
//! template. Danube topic names allow only `[A-Za-z0-9_-]` in each segment, so anything else
//! in a schema or table name becomes `_`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicRule {
    Default,
    Template(String),
}

impl TopicRule {
    pub fn template(t: &str) -> Result<Self, String> {
        if !t.starts_with('/') {
            return Err(format!(
                "\"{t}\" must start with / (e.g. /cdc/{{schema}}_{{table}})"
            ));
        }
        let rest = t.replace("{schema}", "").replace("{table}", "");
        if rest.contains('{') || rest.contains('}') {
            return Err(format!(
                "\"{t}\": only {{schema}} and {{table}} may be substituted"
            ));
        }
        Ok(TopicRule::Template(t.to_string()))
    }

    /// `None`: the connector's default topic.
    pub fn render(&self, schema: &str, table: &str) -> Option<String> {
        match self {
            TopicRule::Default => None,
            TopicRule::Template(t) => Some(
                t.replace("{schema}", &sanitize(schema))
                    .replace("{table}", &sanitize(table)),
            ),
        }
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_topic_per_table() {
        let rule = TopicRule::template("/cdc/{schema}_{table}").expect("valid");
        assert_eq!(
            rule.render("public", "order lines").as_deref(),
            Some("/cdc/public_order_lines")
        );
        assert_eq!(TopicRule::Default.render("public", "x"), None);
        assert!(TopicRule::template("cdc/{table}").is_err());
    }
}
