//! Which tables the connector streams: an include list (empty: every table the publication
//! publishes) and an exclude list, both `schema.table` or `table` (schema `public`).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub schema: String,
    pub table: String,
}

impl TableName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (schema, table) = match s.split_once('.') {
            Some((schema, table)) => (schema.trim(), table.trim()),
            None => ("public", s.trim()),
        };
        let plain = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        };
        if !plain(schema) || !plain(table) {
            return Err(format!(
                "\"{s}\": write tables as schema.table of letters, digits and _"
            ));
        }
        Ok(Self {
            schema: schema.to_string(),
            table: table.to_string(),
        })
    }

    /// As SQL: `"schema"."table"`.
    pub fn quoted(&self) -> String {
        format!("\"{}\".\"{}\"", self.schema, self.table)
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

#[derive(Debug, Clone, Default)]
pub struct TableFilter {
    pub include: Vec<TableName>,
    pub exclude: Vec<TableName>,
}

impl TableFilter {
    pub fn new(include: Vec<String>, exclude: Vec<String>) -> Result<Self, String> {
        let parse = |key: &str, names: Vec<String>| {
            names
                .iter()
                .map(|n| TableName::parse(n).map_err(|m| format!("{key}: {m}")))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            include: parse("tables", include)?,
            exclude: parse("exclude_tables", exclude)?,
        })
    }

    pub fn includes(&self, schema: &str, table: &str) -> bool {
        let is = |t: &TableName| t.schema == schema && t.table == table;
        (self.include.is_empty() || self.include.iter().any(is)) && !self.exclude.iter().any(is)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_wins_and_an_empty_include_takes_all() {
        let f = TableFilter::new(vec![], vec!["audit".into()]).expect("valid");
        assert!(f.includes("public", "orders"));
        assert!(f.includes("sales", "orders"));
        assert!(!f.includes("public", "audit"));
    }

    #[test]
    fn names_are_plain() {
        assert!(TableName::parse("public.orders").is_ok());
        assert!(TableName::parse("x; DROP TABLE y").is_err());
        assert!(TableName::parse("a.").is_err());
        assert_eq!(
            TableName::parse("inventory").expect("valid").quoted(),
            "\"public\".\"inventory\""
        );
    }
}
