//! From an MQTT topic to a Danube topic: filters with `+` and `#`, and topic templates whose
//! `{N}` is the N-th level of the MQTT topic.

/// An MQTT topic filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    text: String,
    levels: Vec<String>,
}

impl Filter {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("the filter is empty".into());
        }
        let levels: Vec<String> = text.split('/').map(String::from).collect();
        for (i, level) in levels.iter().enumerate() {
            let wildcard = level == "+" || level == "#";
            if !wildcard && (level.contains('+') || level.contains('#')) {
                return Err(format!("\"{text}\": `+` and `#` must fill a whole level"));
            }
            if level == "#" && i + 1 != levels.len() {
                return Err(format!("\"{text}\": `#` must be the last level"));
            }
        }
        Ok(Self {
            text: text.to_string(),
            levels,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// MQTT matching: `+` is one level, `#` the rest (zero levels included); a topic
    /// starting with `$` is not matched by a leading wildcard.
    pub fn matches(&self, topic: &str) -> bool {
        if topic.starts_with('$')
            && matches!(self.levels.first().map(String::as_str), Some("+" | "#"))
        {
            return false;
        }
        let mut topic_levels = topic.split('/');
        for level in &self.levels {
            match level.as_str() {
                "#" => return true,
                "+" => {
                    if topic_levels.next().is_none() {
                        return false;
                    }
                }
                exact => {
                    if topic_levels.next() != Some(exact) {
                        return false;
                    }
                }
            }
        }
        topic_levels.next().is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Level(usize),
}

/// A Danube topic, fixed or with `{N}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Checked at `open`: the result is always `/namespace/name` with valid characters.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else {
                return Err(format!("\"{text}\": `{{` without `}}`"));
            };
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let inner = &rest[start + 1..start + len];
            match inner.parse::<usize>() {
                Ok(n) if n >= 1 => parts.push(Part::Level(n)),
                _ => {
                    return Err(format!(
                        "\"{text}\": `{{{inner}}}` is not a level number (1 is the first level)"
                    ));
                }
            }
            rest = &rest[start + len + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        // Check the shape with every placeholder standing for a valid name.
        let sample: String = parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                Part::Level(_) => "x",
            })
            .collect();
        check_topic(&sample).map_err(|why| format!("\"{text}\": {why}"))?;
        Ok(Self { parts })
    }

    /// The Danube topic for a message on `mqtt_topic`; characters Danube does not allow in a
    /// name become `_`. `Err` when the topic has fewer levels than the template uses.
    pub fn render(&self, mqtt_topic: &str) -> Result<String, String> {
        let levels: Vec<&str> = mqtt_topic.split('/').collect();
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Level(n) => {
                    let Some(level) = levels.get(n - 1).filter(|l| !l.is_empty()) else {
                        return Err(format!(
                            "the topic template needs level {n}, which MQTT topic \"{mqtt_topic}\" does not have"
                        ));
                    };
                    out.extend(level.chars().map(|c| {
                        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    }));
                }
            }
        }
        Ok(out)
    }

    pub fn is_fixed(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }
}

/// Danube's rule: `/namespace/name`, letters, digits, `_` and `-`.
pub fn check_topic(t: &str) -> Result<(), String> {
    let parts: Vec<&str> = t.split('/').collect();
    let valid = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if parts.len() != 3 || !parts[0].is_empty() || !valid(parts[1]) || !valid(parts[2]) {
        return Err(
            "a Danube topic is /namespace/name with letters, digits, '_' and '-' only".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_matching() {
        let cases = [
            ("sensors/+/temp", "sensors/a/temp", true),
            ("sensors/+/temp", "sensors/a/b/temp", false),
            ("sensors/+/temp", "sensors//temp", true),
            ("sensors/#", "sensors", true),
            ("sensors/#", "sensors/a/b", true),
            ("sensors/#", "other/a", false),
            ("#", "anything/at/all", true),
            ("#", "$SYS/broker/load", false),
            ("+/broker", "$SYS/broker", false),
            ("$SYS/#", "$SYS/broker/load", true),
            ("a/b", "a/b", true),
            ("a/b", "a/b/c", false),
            ("a/+", "a", false),
        ];
        for (filter, topic, expected) in cases {
            let f = Filter::parse(filter).expect(filter);
            assert_eq!(f.matches(topic), expected, "{filter} vs {topic}");
        }
    }

    #[test]
    fn bad_filters() {
        for bad in ["", "a/#/b", "a/b#", "a+/b"] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_render_levels_and_clean_names() {
        let t = Template::parse("/default/iot-{2}-{3}").expect("template");
        assert!(!t.is_fixed());
        assert_eq!(
            t.render("factory/line.1/temp").expect("render"),
            "/default/iot-line_1-temp"
        );
        assert!(t.render("factory/x").is_err(), "level 3 is missing");
        let fixed = Template::parse("/default/all").expect("fixed");
        assert!(fixed.is_fixed());
        assert_eq!(fixed.render("x/y").expect("render"), "/default/all");
    }

    #[test]
    fn templates_that_cannot_name_a_topic_are_refused() {
        for bad in [
            "/iot/{1}/{2}",
            "default/x",
            "/default/a.b",
            "/default/{0}",
            "/default/{x}",
            "/default/{1",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
