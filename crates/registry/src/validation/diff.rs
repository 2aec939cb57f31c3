//! A short, readable diff of two values for "may not change" errors. Upstream embeds a
//! `go-cmp` diff of its internal Go structs, which cannot be reproduced byte for byte;
//! this lists the changed fields in the same `-`/`+` style instead.

use serde_json::Value;

/// Bounds the diff so a huge change cannot produce a huge error message.
const MAX_LINES: usize = 40;

/// Renders `type_name{ - path: old / + path: new }` for every changed leaf.
pub fn render<T: serde::Serialize>(old: &T, new: &T, type_name: &str) -> String {
    let old = serde_json::to_value(old)
        .map(crate::validation::meta::normalize)
        .unwrap_or(Value::Null);
    let new = serde_json::to_value(new)
        .map(crate::validation::meta::normalize)
        .unwrap_or(Value::Null);
    let mut lines = Vec::new();
    collect(&old, &new, String::new(), &mut lines);
    let mut out = format!("  {type_name}{{\n");
    for line in lines.iter().take(MAX_LINES) {
        out.push_str(line);
        out.push('\n');
    }
    if lines.len() > MAX_LINES {
        out.push_str("  \t... // more changes\n");
    }
    out.push_str("  }\n");
    out
}

fn collect(old: &Value, new: &Value, path: String, lines: &mut Vec<String>) {
    if lines.len() > MAX_LINES {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                collect(
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    child,
                    lines,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                collect(x, y, format!("{path}[{i}]"), lines);
            }
        }
        (a, b) if a == b => {}
        (a, b) => {
            lines.push(format!("- \t{path}: {a}"));
            lines.push(format!("+ \t{path}: {b}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_changed_leaves_only() {
        let old = serde_json::json!({"a": 1, "b": {"c": "x", "d": [1, 2]}});
        let new = serde_json::json!({"a": 1, "b": {"c": "y", "d": [1, 2]}});
        assert_eq!(
            render(&old, &new, "core.PodSpec"),
            "  core.PodSpec{\n- \tb.c: \"x\"\n+ \tb.c: \"y\"\n  }\n"
        );
    }
}
