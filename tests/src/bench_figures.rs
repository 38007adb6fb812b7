//! Headline figures of the benchmarks, gathered into one table by `make bench`.
//!
//! Each benchmark calls [`record`] where it prints a headline result; with `BENCH_FIGURES`
//! naming a file, that appends one JSON line `{"name":…,"value":…,"unit":…}` to it (the host's
//! `bench --figures FILE` and `scripts/bench.sh` append the same shape). `danube-connect-bench
//! table` reads the lines back, prints them aligned and writes them with the machine they ran on.

use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

/// The environment variable naming the JSON-lines file figures are appended to.
pub const ENV: &str = "BENCH_FIGURES";

#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

impl Figure {
    pub fn to_json(&self) -> Value {
        json!({ "name": self.name, "value": self.value, "unit": self.unit })
    }

    /// One JSON line; `name` and `unit` strings, `value` a number.
    pub fn from_line(line: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let text = |key: &str| {
            v[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("no string \"{key}\""))
        };
        Ok(Self {
            name: text("name")?,
            value: v["value"].as_f64().ok_or("no number \"value\"")?,
            unit: text("unit")?,
        })
    }
}

/// How figure names say which broker a run used.
pub fn broker(real: bool) -> &'static str {
    if real { "real broker" } else { "test broker" }
}

/// Appends the figure to the `BENCH_FIGURES` file, if set. Never fails the benchmark: a figure
/// that cannot be written is reported on stderr.
pub fn record(name: &str, value: f64, unit: &str) {
    let Some(path) = std::env::var_os(ENV).filter(|p| !p.is_empty()) else {
        return;
    };
    if !value.is_finite() {
        eprintln!("{ENV}: {name} not recorded: {value} is not a number");
        return;
    }
    let figure = Figure {
        name: name.into(),
        value,
        unit: unit.into(),
    };
    if let Err(e) = append(Path::new(&path), &figure) {
        eprintln!("{ENV}: cannot append {name} to {}: {e}", path.display());
    }
}

fn append(path: &Path, figure: &Figure) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write per line, so lines from several processes never interleave.
    file.write_all(format!("{}\n", figure.to_json()).as_bytes())
}

/// The figures of a JSON-lines text in the order recorded, and a message for each line that is
/// not one (a benchmark killed mid-write leaves a partial line; the rest still count). A figure
/// recorded twice keeps both: the same run repeated in one `make bench` is a spread, not a
/// correction.
pub fn parse(text: &str) -> (Vec<Figure>, Vec<String>) {
    let mut figures = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match Figure::from_line(line) {
            Ok(f) => figures.push(f),
            Err(e) => errors.push(format!("line {}: {e}", i + 1)),
        }
    }
    (figures, errors)
}

/// Whole numbers from 100 up, two decimals below (ratios, milliseconds).
fn format_value(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Figure, value and unit in aligned columns, values right-aligned.
pub fn table(figures: &[Figure]) -> String {
    let values: Vec<String> = figures.iter().map(|f| format_value(f.value)).collect();
    let name_w = figures
        .iter()
        .map(|f| f.name.chars().count())
        .chain(["figure".len()])
        .max()
        .unwrap_or(0);
    let value_w = values
        .iter()
        .map(String::len)
        .chain(["value".len()])
        .max()
        .unwrap_or(0);
    let mut out = format!("{:<name_w$}  {:>value_w$}  unit\n", "figure", "value");
    for (f, v) in figures.iter().zip(&values) {
        out.push_str(&format!("{:<name_w$}  {v:>value_w$}  {}\n", f.name, f.unit));
    }
    out
}

/// The value after `key:` on the first line of `/proc`-style text that has it.
fn proc_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// Cores, CPU model and memory of this machine, as far as `/proc` tells.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib = proc_field(&meminfo, "MemTotal")
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "cpu": proc_field(&cpuinfo, "model name"),
        "memory_gib": memory_kib.map(|k| (k / f64::from(1 << 20) * 10.0).round() / 10.0),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}

/// The document `danube-connect-bench table --json` writes.
pub fn document(figures: &[Figure], machine: Value, when: u64) -> Value {
    json!({
        "machine": machine,
        "when": when,
        "figures": figures.iter().map(Figure::to_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_figures_back_and_reports_broken_lines() {
        let text = concat!(
            "{\"name\":\"e2e sink_http: host, test broker\",\"value\":5321.7,\"unit\":\"msgs/s\"}\n",
            "\n",
            "{\"name\":\"cold start\",\"value\":7,\"unit\":\"ms\"}\n",
            "{\"name\":\"half a li",
            "\n{\"name\":\"no unit\",\"value\":1}\n",
            "{\"name\":\"cold start\",\"value\":9,\"unit\":\"ms\"}\n",
        );
        let (figures, errors) = parse(text);
        let names: Vec<(&str, f64)> = figures.iter().map(|f| (f.name.as_str(), f.value)).collect();
        assert_eq!(
            names,
            [
                ("e2e sink_http: host, test broker", 5321.7),
                ("cold start", 7.0),
                ("cold start", 9.0),
            ]
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("line 4:"), "{errors:?}");
        assert!(errors[1].starts_with("line 5:") && errors[1].contains("unit"));
    }

    #[test]
    fn a_written_line_parses_to_the_same_figure() {
        let f = Figure {
            name: "typed records: Avro datum -> JSON (decode = \"auto\")".into(),
            value: 0.25,
            unit: "ns/msg".into(),
        };
        assert_eq!(Figure::from_line(&f.to_json().to_string()), Ok(f));
    }

    #[test]
    fn table_aligns_columns() {
        let figures = [
            Figure {
                name: "a long figure name".into(),
                value: 560648.4,
                unit: "msgs/s".into(),
            },
            Figure {
                name: "ratio".into(),
                value: 0.823,
                unit: "ratio".into(),
            },
        ];
        let text = table(&figures);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "a long figure name  560648  msgs/s");
        assert_eq!(lines[2], "ratio                 0.82  ratio");
        assert_eq!(lines[0].find("unit"), lines[1].find("msgs/s"));
    }

    #[test]
    fn reads_proc_fields() {
        let meminfo = "MemTotal:       24542100 kB\nMemFree:         1000 kB\n";
        assert_eq!(proc_field(meminfo, "MemTotal"), Some("24542100 kB"));
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(proc_field(cpuinfo, "model name"), Some("AMD EPYC 7B13"));
        assert_eq!(proc_field(cpuinfo, "flags"), None);
    }
}
