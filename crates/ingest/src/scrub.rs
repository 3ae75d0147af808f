//! Removal of anything that looks like an identity number from text that is
//! kept (quarantine details, error messages, header previews).

/// What replaces a removed identity-like sequence.
pub(crate) const REMOVED: &str = "[id removed]";

/// Returns `text` with every run of digits that could be an identity number
/// replaced by [`REMOVED`], control characters replaced by `?`, shortened
/// to at most `max_chars` characters (an ellipsis marks a cut).
///
/// A run is a maximal sequence of digits, possibly joined by single `-`,
/// `+` or space characters, and it is removed when it holds 10 or more
/// digits (every written form of a personnummer, samordningsnummer or
/// numeric reservnummer), or when it is a 6- or 8-digit group followed by a
/// separator and a letter-bearing 4-character tail (lettered
/// reservnummer). Over-removal (a long unrelated number) is accepted; a
/// missed identity number is not.
pub(crate) fn scrub(text: &str, max_chars: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut i = 0;
    while i < chars.len() {
        let c = chars.get(i).copied().unwrap_or(' ');
        if c.is_ascii_digit() {
            // Extend the run.
            let start = i;
            let mut digits = 0usize;
            let mut j = i;
            let mut end = i; // exclusive end of the run (after last digit)
            while let Some(&d) = chars.get(j) {
                if d.is_ascii_digit() {
                    digits += 1;
                    j += 1;
                    end = j;
                } else if matches!(d, '-' | '+' | ' ')
                    && chars.get(j + 1).is_some_and(|n| n.is_ascii_digit())
                {
                    j += 1;
                } else {
                    break;
                }
            }
            // Lettered reservnummer: 6/8 digits, optional separator, then 4
            // alphanumerics containing a letter.
            let mut tail_end = end;
            if digits == 6 || digits == 8 {
                let mut k = end;
                if chars.get(k).is_some_and(|c| matches!(c, '-' | '+')) {
                    k += 1;
                }
                let tail: Vec<char> = chars.iter().skip(k).take(4).copied().collect();
                if tail.len() == 4
                    && tail.iter().all(|c| c.is_ascii_alphanumeric())
                    && tail.iter().any(|c| c.is_ascii_alphabetic())
                    && !chars.get(k + 4).is_some_and(|c| c.is_ascii_alphanumeric())
                {
                    tail_end = k + 4;
                }
            }
            if digits >= 10 || tail_end > end {
                out.push_str(REMOVED);
                i = tail_end.max(end);
            } else {
                for d in chars.iter().take(end).skip(start) {
                    out.push(*d);
                }
                i = end;
            }
        } else {
            out.push(if c.is_control() { '?' } else { c });
            i += 1;
        }
    }
    shorten(out, max_chars)
}

fn shorten(s: String, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s;
    }
    let mut cut: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    // Never cut inside the removal marker so that a partial marker does not
    // look like data.
    if let Some(pos) = cut.rfind('[')
        && !cut[pos..].contains(']')
    {
        cut.truncate(pos);
    }
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn removes_every_written_form() {
        for id in [
            "191212121212",
            "19121212-1212",
            "121212-1212",
            "121212+1212",
            "1212121212",
            "991999123456",
            "19800101-K123",
            "800101K123",
            "121212 1212",
        ] {
            let s = scrub(&format!("value {id} here"), 200);
            assert_eq!(s, format!("value {REMOVED} here"), "{id}");
        }
    }

    #[test]
    fn keeps_dates_codes_and_numbers() {
        for t in [
            "2023-02-30",
            "20230230",
            "E11.9 I10",
            "27-42",
            "<5,5",
            "A10BA02",
            "NPU27300",
        ] {
            assert_eq!(scrub(t, 200), t);
        }
    }

    #[test]
    fn shortens_and_replaces_controls() {
        assert_eq!(scrub("a\u{0}b", 10), "a?b");
        assert_eq!(scrub("abcdefghij", 5), "abcd…");
    }

    proptest! {
        #[test]
        fn no_ten_digit_run_survives(s in "[0-9 +\\-a-zA-Z]{0,60}") {
            let out: Vec<char> = scrub(&s, 1000).chars().collect();
            let mut run = 0;
            for (i, c) in out.iter().enumerate() {
                let joins = matches!(c, '-' | '+' | ' ')
                    && i > 0
                    && out[i - 1].is_ascii_digit()
                    && out.get(i + 1).is_some_and(|n| n.is_ascii_digit());
                if c.is_ascii_digit() {
                    run += 1;
                } else if !joins {
                    run = 0;
                }
                prop_assert!(run < 10, "{} -> {:?}", s, out);
            }
        }
    }
}
