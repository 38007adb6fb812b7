//! Converts column values in Postgres text output format to JSON, by type OID.
//!
//! pgoutput (without binary mode) sends every value as its text output, so
//! the type OID from the Relation message decides how to read it. Anything
//! that cannot be read as expected falls back to the text as a JSON string,
//! so no value is ever lost.

use serde_json::{Number, Value};

/// Knobs for lossy-vs-exact choices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValueOptions {
    /// Emit `numeric` as a JSON number. Off by default because JSON readers
    /// commonly parse numbers as f64, which loses digits.
    pub numeric_as_number: bool,
}

/// Built-in type OIDs, from `pg_type`.
mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const TIMETZ: u32 = 1266;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

/// Array type OID → element type OID, for the arrays whose elements get
/// typed conversion.
const ARRAYS: &[(u32, u32)] = &[
    (1000, oid::BOOL),
    (1001, oid::BYTEA),
    (1002, oid::CHAR),
    (1003, oid::NAME),
    (1005, oid::INT2),
    (1007, oid::INT4),
    (1009, oid::TEXT),
    (1014, oid::BPCHAR),
    (1015, oid::VARCHAR),
    (1016, oid::INT8),
    (1021, oid::FLOAT4),
    (1022, oid::FLOAT8),
    (1028, oid::OID),
    (1115, oid::TIMESTAMP),
    (1182, oid::DATE),
    (1183, oid::TIME),
    (1185, oid::TIMESTAMPTZ),
    (1187, oid::INTERVAL),
    (1231, oid::NUMERIC),
    (1270, oid::TIMETZ),
    (199, oid::JSON),
    (2951, oid::UUID),
    (3807, oid::JSONB),
];

/// Postgres' own limit on array dimensions; deeper nesting is not a valid
/// array literal, and the cap bounds recursion.
const MAX_ARRAY_DIMS: usize = 6;

/// The element type of an array type this module converts element-wise.
pub fn array_element_oid(array_oid: u32) -> Option<u32> {
    ARRAYS
        .iter()
        .find(|&&(array, _)| array == array_oid)
        .map(|&(_, element)| element)
}

/// Converts one value in text output format to JSON according to its type.
pub fn to_json(type_oid: u32, text: &str, opts: &ValueOptions) -> Value {
    if let Some(element) = array_element_oid(type_oid) {
        return match parse_array(text) {
            Some(node) => node_to_json(node, element, opts),
            None => string(text),
        };
    }
    match type_oid {
        oid::BOOL => match text {
            "t" => Value::Bool(true),
            "f" => Value::Bool(false),
            _ => string(text),
        },
        oid::INT2 | oid::INT4 | oid::INT8 | oid::OID => text
            .parse::<i64>()
            .map_or_else(|_| string(text), Value::from),
        oid::FLOAT4 | oid::FLOAT8 => finite_number(text).unwrap_or_else(|| string(text)),
        oid::NUMERIC if opts.numeric_as_number => {
            finite_number(text).unwrap_or_else(|| string(text))
        }
        oid::JSON | oid::JSONB => serde_json::from_str(text).unwrap_or_else(|_| string(text)),
        oid::BYTEA => Value::String(base64(&bytea_bytes(text))),
        oid::TIMESTAMP => Value::String(iso_timestamp(text, false)),
        oid::TIMESTAMPTZ => Value::String(iso_timestamp(text, true)),
        // text, varchar, bpchar, name, char, numeric (default), date, time,
        // timetz, uuid, interval, and all other types keep their text.
        _ => string(text),
    }
}

fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

/// A JSON number for finite floats; NaN and the infinities have no JSON form.
fn finite_number(text: &str) -> Option<Value> {
    let f: f64 = text.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

/// The bytes of a bytea in hex output (`\x0a1b`); other text is taken as-is.
fn bytea_bytes(text: &str) -> Vec<u8> {
    text.strip_prefix("\\x")
        .and_then(decode_hex)
        .unwrap_or_else(|| text.as_bytes().to_vec())
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits = hex.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| match pair {
            &[hi, lo] => {
                let hi = char::from(hi).to_digit(16)?;
                let lo = char::from(lo).to_digit(16)?;
                u8::try_from((hi << 4) | lo).ok()
            }
            _ => None,
        })
        .collect()
}

/// Standard, padded base64 (RFC 4648 §4).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        for (slot, &b) in group.iter_mut().zip(chunk) {
            *slot = b;
        }
        let n = u32::from_be_bytes([0, group[0], group[1], group[2]]);
        // A chunk of k bytes yields k + 1 significant characters.
        for i in 0..4 {
            if i <= chunk.len() {
                let sextet = (n >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(ALPHABET[sextet as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Rewrites `2024-01-02 03:04:05.123+00` as `2024-01-02T03:04:05.123+00:00`.
///
/// Postgres (DateStyle ISO) separates date and time with a space and prints
/// whole-hour offsets as `+HH`; ISO-8601 wants `T` and `+HH:MM`. Values
/// without a time part (`infinity`, `-infinity`) pass through unchanged.
fn iso_timestamp(text: &str, with_offset: bool) -> String {
    let (body, era) = match text.strip_suffix(" BC") {
        Some(body) => (body, " BC"),
        None => (text, ""),
    };
    let Some((date, time)) = body.split_once(' ') else {
        return text.to_owned();
    };
    if !time.starts_with(|c: char| c.is_ascii_digit()) {
        return text.to_owned();
    }
    // The time part contains no '+' or '-' other than the offset's sign.
    let hour_only_offset = with_offset
        && time
            .rfind(['+', '-'])
            .and_then(|sign| time.get(sign + 1..))
            .is_some_and(|hours| hours.len() == 2 && hours.bytes().all(|b| b.is_ascii_digit()));
    let minutes = if hour_only_offset { ":00" } else { "" };
    format!("{date}T{time}{minutes}{era}")
}

/// A parsed array literal: nested arrays, NULLs and unescaped element text.
#[derive(Debug, PartialEq)]
enum Node {
    Null,
    Element(String),
    Array(Vec<Node>),
}

fn node_to_json(node: Node, element_oid: u32, opts: &ValueOptions) -> Value {
    match node {
        Node::Null => Value::Null,
        Node::Element(text) => to_json(element_oid, &text, opts),
        Node::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| node_to_json(item, element_oid, opts))
                .collect(),
        ),
    }
}

/// Parses an array literal such as `{a,"b c",NULL,"q\"x"}` or
/// `[0:1]={1,2}`; `None` if it is not well formed.
fn parse_array(text: &str) -> Option<Node> {
    // Arrays whose lower bound is not 1 carry an explicit dimension prefix.
    let body = if text.starts_with('[') {
        text.split_once('=')?.1
    } else {
        text
    };
    let mut parser = ArrayParser {
        chars: body.chars().peekable(),
    };
    parser.skip_whitespace();
    let node = parser.array(1)?;
    parser.skip_whitespace();
    parser.chars.next().is_none().then_some(node)
}

struct ArrayParser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl ArrayParser<'_> {
    fn skip_whitespace(&mut self) {
        while self.chars.next_if(|c| c.is_whitespace()).is_some() {}
    }

    fn array(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_ARRAY_DIMS || self.chars.next()? != '{' {
            return None;
        }
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.chars.next_if_eq(&'}').is_some() {
            return Some(Node::Array(items));
        }
        loop {
            self.skip_whitespace();
            let item = match self.chars.peek()? {
                '{' => self.array(depth + 1)?,
                '"' => Node::Element(self.quoted()?),
                _ => self.unquoted()?,
            };
            items.push(item);
            self.skip_whitespace();
            match self.chars.next()? {
                ',' => {}
                '}' => return Some(Node::Array(items)),
                _ => return None,
            }
        }
    }

    /// A double-quoted element; backslash escapes the next character.
    fn quoted(&mut self) -> Option<String> {
        self.chars.next()?; // opening quote
        let mut out = String::new();
        loop {
            match self.chars.next()? {
                '"' => return Some(out),
                '\\' => out.push(self.chars.next()?),
                c => out.push(c),
            }
        }
    }

    /// A bare element, ending at ',' or '}'; bare `NULL` is SQL null.
    fn unquoted(&mut self) -> Option<Node> {
        let mut out = String::new();
        while let Some(&c) = self.chars.peek() {
            match c {
                ',' | '}' => break,
                '{' | '"' => return None,
                '\\' => {
                    self.chars.next();
                    out.push(self.chars.next()?);
                }
                _ => {
                    self.chars.next();
                    out.push(c);
                }
            }
        }
        let out = out.trim_end();
        if out.is_empty() {
            None
        } else if out.eq_ignore_ascii_case("NULL") {
            Some(Node::Null)
        } else {
            Some(Node::Element(out.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(type_oid: u32, text: &str) -> Value {
        to_json(type_oid, text, &ValueOptions::default())
    }

    #[test]
    fn bool() {
        assert_eq!(conv(16, "t"), json!(true));
        assert_eq!(conv(16, "f"), json!(false));
        assert_eq!(conv(16, "maybe"), json!("maybe"));
    }

    #[test]
    fn integers() {
        assert_eq!(conv(21, "-32768"), json!(-32768));
        assert_eq!(conv(23, "42"), json!(42));
        assert_eq!(conv(20, "9223372036854775807"), json!(i64::MAX));
        assert_eq!(conv(26, "4294967295"), json!(4_294_967_295_u32));
        assert_eq!(conv(23, "forty"), json!("forty"));
    }

    #[test]
    fn floats() {
        assert_eq!(conv(700, "1.5"), json!(1.5));
        assert_eq!(conv(701, "-2.25e-3"), json!(-0.00225));
        for special in ["NaN", "Infinity", "-Infinity"] {
            assert_eq!(conv(700, special), json!(special));
            assert_eq!(conv(701, special), json!(special));
        }
    }

    #[test]
    fn numeric() {
        assert_eq!(conv(1700, "12345.6789"), json!("12345.6789"));
        let as_number = ValueOptions {
            numeric_as_number: true,
        };
        assert_eq!(to_json(1700, "12345.6789", &as_number), json!(12345.6789));
        assert_eq!(to_json(1700, "NaN", &as_number), json!("NaN"));
        assert_eq!(to_json(1700, "Infinity", &as_number), json!("Infinity"));
    }

    #[test]
    fn strings() {
        for oid in [25, 1043, 1042, 19, 18, 2950, 1186, 1082, 1083, 1266] {
            assert_eq!(conv(oid, "as is 12:00"), json!("as is 12:00"));
        }
        assert_eq!(conv(1082, "2024-01-02"), json!("2024-01-02"));
        assert_eq!(conv(1083, "03:04:05.5"), json!("03:04:05.5"));
        assert_eq!(conv(1266, "03:04:05+02"), json!("03:04:05+02"));
        assert_eq!(
            conv(2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
        );
        assert_eq!(conv(1186, "1 day 02:00:00"), json!("1 day 02:00:00"));
    }

    #[test]
    fn unknown_types_keep_text() {
        assert_eq!(conv(600, "(1,2)"), json!("(1,2)")); // point
        assert_eq!(conv(50_000, "happy"), json!("happy")); // an enum
    }

    #[test]
    fn json_inline() {
        assert_eq!(conv(114, r#"{"a": [1, 2]}"#), json!({"a": [1, 2]}));
        assert_eq!(conv(3802, "null"), json!(null));
        assert_eq!(conv(3802, "{broken"), json!("{broken"));
    }

    #[test]
    fn bytea() {
        assert_eq!(conv(17, "\\x"), json!(""));
        assert_eq!(conv(17, "\\x0a1bff"), json!("Chv/"));
        assert_eq!(conv(17, "\\x666f6f62"), json!("Zm9vYg=="));
        assert_eq!(conv(17, "\\x666F6F6261"), json!("Zm9vYmE="));
        // Not hex output: the raw text bytes.
        assert_eq!(conv(17, "foo"), json!("Zm9v"));
        assert_eq!(conv(17, "\\xzz"), json!(base64(b"\\xzz")));
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            conv(1114, "2024-01-02 03:04:05.123"),
            json!("2024-01-02T03:04:05.123")
        );
        assert_eq!(conv(1114, "infinity"), json!("infinity"));
        assert_eq!(
            conv(1184, "2024-01-02 03:04:05.123+00"),
            json!("2024-01-02T03:04:05.123+00:00")
        );
        assert_eq!(
            conv(1184, "2024-01-02 03:04:05+05:30"),
            json!("2024-01-02T03:04:05+05:30")
        );
        assert_eq!(
            conv(1184, "2024-01-02 03:04:05-08"),
            json!("2024-01-02T03:04:05-08:00")
        );
        assert_eq!(
            conv(1184, "1900-01-01 00:00:00+00:53:28"),
            json!("1900-01-01T00:00:00+00:53:28")
        );
        assert_eq!(
            conv(1184, "0044-03-15 12:00:00+01 BC"),
            json!("0044-03-15T12:00:00+01:00 BC")
        );
        assert_eq!(conv(1184, "infinity"), json!("infinity"));
        assert_eq!(conv(1184, "-infinity"), json!("-infinity"));
    }

    #[test]
    fn array_element_oids() {
        assert_eq!(array_element_oid(1007), Some(23));
        assert_eq!(array_element_oid(3807), Some(3802));
        assert_eq!(array_element_oid(199), Some(114));
        assert_eq!(array_element_oid(23), None);
    }

    #[test]
    fn arrays_of_scalars() {
        assert_eq!(conv(1005, "{1,-2}"), json!([1, -2]));
        assert_eq!(conv(1007, "{1,NULL,3}"), json!([1, null, 3]));
        assert_eq!(conv(1016, "{9223372036854775807}"), json!([i64::MAX]));
        assert_eq!(conv(1000, "{t,f}"), json!([true, false]));
        assert_eq!(conv(1021, "{1.5,NaN}"), json!([1.5, "NaN"]));
        assert_eq!(conv(1022, "{-Infinity,2}"), json!(["-Infinity", 2.0]));
        assert_eq!(conv(1231, "{1.10,2}"), json!(["1.10", "2"]));
        let as_number = ValueOptions {
            numeric_as_number: true,
        };
        assert_eq!(to_json(1231, "{1.5,NaN}", &as_number), json!([1.5, "NaN"]));
        assert_eq!(
            conv(2951, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"),
            json!(["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"])
        );
        assert_eq!(conv(1182, "{2024-01-02}"), json!(["2024-01-02"]));
        assert_eq!(
            conv(1115, r#"{"2024-01-02 03:04:05"}"#),
            json!(["2024-01-02T03:04:05"])
        );
        assert_eq!(
            conv(1185, r#"{"2024-01-02 03:04:05+00",NULL}"#),
            json!(["2024-01-02T03:04:05+00:00", null])
        );
        assert_eq!(conv(1014, r#"{"ab  ",c}"#), json!(["ab  ", "c"]));
        assert_eq!(conv(1007, "{}"), json!([]));
    }

    #[test]
    fn arrays_of_text_quoting() {
        assert_eq!(
            conv(1009, r#"{a,"b c",NULL,"q\"x","back\\slash"}"#),
            json!(["a", "b c", null, "q\"x", "back\\slash"])
        );
        // Quoted "NULL" is the string; bare NULL (any case) is null.
        assert_eq!(conv(1015, r#"{"NULL",null,""}"#), json!(["NULL", null, ""]));
        assert_eq!(conv(1009, r#"{"a,b","{}"}"#), json!(["a,b", "{}"]));
    }

    #[test]
    fn arrays_of_json() {
        assert_eq!(
            conv(3807, r#"{"{\"a\": 1}","[1, 2]",NULL}"#),
            json!([{"a": 1}, [1, 2], null])
        );
        assert_eq!(conv(199, r#"{"\"s\""}"#), json!(["s"]));
    }

    #[test]
    fn multidimensional_arrays() {
        assert_eq!(conv(1007, "{{1,2},{3,4}}"), json!([[1, 2], [3, 4]]));
        assert_eq!(
            conv(1009, r#"{{a,"b"},{NULL,"}"}}"#),
            json!([["a", "b"], [null, "}"]])
        );
        assert_eq!(conv(1007, "[0:1]={5,6}"), json!([5, 6]));
        assert_eq!(conv(1007, "[0:1][1:1]={{5},{6}}"), json!([[5], [6]]));
    }

    #[test]
    fn unparseable_arrays_keep_text() {
        for bad in [
            "",
            "1,2",
            "{1,2",
            "{1,,2}",
            "{1}x",
            r#"{"open}"#,
            "{a\"b}",
            "{{{{{{{1}}}}}}}",
        ] {
            assert_eq!(conv(1007, bad), json!(bad), "{bad:?}");
        }
    }
}
