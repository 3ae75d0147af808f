//! Table and result names: one rule for both, so every name is a plain SQL
//! identifier and a plain file name (no path tricks).

/// Longest accepted name.
pub const MAX_NAME_LEN: usize = 63;

/// Checks `name` is a lowercase ASCII identifier: a letter, then letters,
/// digits or `_`, at most [`MAX_NAME_LEN`] characters. Such a name needs no
/// quoting in SQL (DataFusion lowercases unquoted identifiers), and as a file
/// stem it cannot name a parent directory, a hidden file or another folder.
/// Returns the reason when it is not.
pub fn check_name(name: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("a name cannot be empty".into());
    };
    if name.len() > MAX_NAME_LEN {
        return Err(format!("longer than {MAX_NAME_LEN} characters"));
    }
    if !first.is_ascii_lowercase() {
        return Err("must start with a lowercase letter a-z".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(format!(
            "character {bad:?} is not allowed (lowercase letters a-z, digits and _ only)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_identifiers_pass() {
        for ok in ["a", "diagnosis", "prevalence_2024", "x1_y2"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn path_tricks_and_odd_names_are_refused_with_a_reason() {
        for bad in [
            "",
            "../x",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "C:x",
            "Upper",
            "1abc",
            "_x",
            "a b",
            "a.parquet",
            "å",
            "a\0b",
        ] {
            let reason = check_name(bad).expect_err(bad);
            assert!(!reason.is_empty(), "{bad:?}");
        }
        assert!(check_name(&"a".repeat(MAX_NAME_LEN)).is_ok());
        assert!(check_name(&"a".repeat(MAX_NAME_LEN + 1)).is_err());
    }
}
