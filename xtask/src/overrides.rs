//! `--set key=value` overrides: dotted keys into a JSON document.

use std::fmt;

use serde_json::Value;

/// Why an override could not be applied.
#[derive(Debug, Clone, PartialEq)]
pub enum OverrideError {
    /// The argument has no `=`.
    Syntax {
        /// The argument as given.
        argument: String,
    },
    /// The key names nothing in the configuration.
    UnknownKey {
        /// The key as given.
        key: String,
        /// Every key the configuration has (leaf keys, dotted).
        valid: Vec<String>,
    },
    /// The value's JSON type differs from the current value's.
    WrongType {
        /// The key.
        key: String,
        /// The JSON type the key holds (`number`, `string`, ...).
        expected: &'static str,
        /// The value as given.
        value: String,
    },
}

impl fmt::Display for OverrideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax { argument } => {
                write!(
                    f,
                    "`--set {argument}` is not of the form KEY=VALUE (e.g. supcon.epochs=10)"
                )
            }
            Self::UnknownKey { key, valid } => {
                write!(f, "unknown configuration key `{key}`; valid keys are:")?;
                for k in valid {
                    write!(f, "\n  {k}")?;
                }
                Ok(())
            }
            Self::WrongType {
                key,
                expected,
                value,
            } => write!(f, "`{key}` takes a {expected}, got `{value}`"),
        }
    }
}

impl std::error::Error for OverrideError {}

/// Every leaf key of `value`, dotted (`supcon.optimizer.Sgd.momentum`), sorted. Array
/// elements are not listed separately: an array is one value.
pub fn leaf_keys(value: &Value) -> Vec<String> {
    fn walk(prefix: &str, value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (name, child) in map {
                    let key = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    walk(&key, child, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut keys = Vec::new();
    walk("", value, &mut keys);
    keys.sort();
    keys
}

/// Applies one `key=value` assignment to `root`.
///
/// The value is parsed as JSON (`0.5`, `true`, `[1,2]`, `{"Cosine":{"final_factor":0}}`); text
/// that is not JSON is taken as a string, so `model.stem=Cifar` works without quotes. A key may
/// name an object (to replace it whole), but it must exist: an unknown key is an error that
/// lists the valid keys. The new value must have the JSON type of the old one, except where the
/// old one is `null` (an optional value) or an object or string (an enum, which serialises as
/// either).
///
/// # Errors
/// See [`OverrideError`].
pub fn apply_override(root: &mut Value, assignment: &str) -> Result<(), OverrideError> {
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| OverrideError::Syntax {
            argument: assignment.to_string(),
        })?;
    let key = key.trim();
    let unknown = |root: &Value| OverrideError::UnknownKey {
        key: key.to_string(),
        valid: leaf_keys(root),
    };
    if key.is_empty() {
        return Err(unknown(root));
    }

    // Walk to the slot without holding a borrow of `root` for the error path.
    let mut pointer = String::new();
    for segment in key.split('.') {
        pointer.push('/');
        pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    }
    if root.pointer(&pointer).is_none() {
        return Err(unknown(root));
    }
    let slot = root.pointer_mut(&pointer).expect("checked above");

    let parsed: Value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.into()));
    let new = match (&*slot, parsed) {
        // A string slot keeps the raw text even when it parses as JSON (e.g. a class name "1").
        (Value::String(_), Value::Number(_) | Value::Bool(_)) => Value::String(raw.to_string()),
        (_, parsed) => parsed,
    };
    let compatible = matches!(
        (&*slot, &new),
        (Value::Null, _)
            | (_, Value::Null)
            | (Value::Number(_), Value::Number(_))
            | (Value::Bool(_), Value::Bool(_))
            | (Value::Array(_), Value::Array(_))
            | (
                Value::String(_) | Value::Object(_),
                Value::String(_) | Value::Object(_)
            )
    );
    if !compatible {
        return Err(OverrideError::WrongType {
            key: key.to_string(),
            expected: type_name(slot),
            value: raw.to_string(),
        });
    }
    *slot = new;
    Ok(())
}

/// The JSON type of a value, as the error messages name it.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean (true or false)",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "JSON array",
        Value::Object(_) => "JSON object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Value {
        json!({
            "seed": 0,
            "model": {"stem": "Cifar", "width": 1.0},
            "supcon": {"epochs": 10, "decay": {"Cosine": {"final_factor": 0.0}}, "limit": null},
            "evaluation": {"severities": [1, 2, 3]}
        })
    }

    #[test]
    fn sets_numbers_strings_arrays_and_objects() {
        let mut c = config();
        apply_override(&mut c, "supcon.epochs=3").unwrap();
        apply_override(&mut c, "model.stem=ImageNet").unwrap();
        apply_override(&mut c, "evaluation.severities=[5]").unwrap();
        apply_override(&mut c, "supcon.decay=Constant").unwrap();
        apply_override(&mut c, "supcon.limit=100").unwrap();
        assert_eq!(c["supcon"]["epochs"], json!(3));
        assert_eq!(c["model"]["stem"], json!("ImageNet"));
        assert_eq!(c["evaluation"]["severities"], json!([5]));
        assert_eq!(c["supcon"]["decay"], json!("Constant"));
        assert_eq!(c["supcon"]["limit"], json!(100));
    }

    #[test]
    fn unknown_key_lists_the_valid_keys() {
        let err = apply_override(&mut config(), "supcon.temprature=0.5").unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("unknown configuration key `supcon.temprature`"),
            "{message}"
        );
        assert!(
            message.contains("supcon.decay.Cosine.final_factor"),
            "{message}"
        );
        assert!(message.contains("model.width"), "{message}");
    }

    #[test]
    fn wrong_type_and_syntax_are_errors() {
        let err = apply_override(&mut config(), "supcon.epochs=many").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`supcon.epochs` takes a number, got `many`"
        );
        assert!(matches!(
            apply_override(&mut config(), "supcon.epochs"),
            Err(OverrideError::Syntax { .. })
        ));
    }

    #[test]
    fn leaf_keys_are_dotted_and_sorted() {
        assert_eq!(
            leaf_keys(&config()),
            [
                "evaluation.severities",
                "model.stem",
                "model.width",
                "seed",
                "supcon.decay.Cosine.final_factor",
                "supcon.epochs",
                "supcon.limit"
            ]
        );
    }
}
