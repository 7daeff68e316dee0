//! The platform's errmsg is not ours: it may echo what was sent, the secret
//! included, raw or URL-encoded. The secret is hidden where it stands as a
//! value (a query or form value, a JSON string, a word of its own) and only
//! there: replacing every substring would spell out a short secret
//! (secret "s": "did not an***wer").

use url::form_urlencoded;

const MASK: &str = "***";

/// `text` with every occurrence of `secret`, as a value, replaced by `***`.
pub(super) fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    let mut hits = Vec::new();
    // The spellings a server could echo: raw, as sent in a query or form
    // (ureq and the url crate encode with form_urlencoded), with %20 for
    // space, in either hex case, and JSON-escaped.
    for form in spellings(secret) {
        for (start, _) in text.match_indices(form.as_str()) {
            let end = start + form.len();
            if bounded(text, start, end) {
                hits.push((start, end));
            }
        }
    }
    // Any other percent-encoding (partly encoded, mixed case): a word that
    // decodes to the secret is the secret.
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (is_word(c) && i < text.len(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if decodes_to(&text[s..i], secret) {
                    hits.push((s, i));
                }
                start = None;
            }
            _ => {}
        }
    }
    mask(text, hits)
}

fn spellings(secret: &str) -> Vec<String> {
    let form: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let pct = form.replace('+', "%20");
    let json = serde_json::Value::from(secret).to_string();
    let json = json[1..json.len() - 1].to_string();
    let mut out = vec![
        secret.to_string(),
        lower_hex(&form),
        lower_hex(&pct),
        form,
        pct,
        json,
    ];
    out.sort();
    out.dedup();
    out
}

/// `%2F` -> `%2f`, leaving everything else alone.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex_left = 0;
    for c in encoded.chars() {
        if c == '%' {
            hex_left = 2;
            out.push(c);
        } else if hex_left > 0 {
            hex_left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that can belong to one value: letters, digits and what
/// percent- and form-encoding leave or produce.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '~' | '%' | '+' | '*')
}

/// The occurrence is a value of its own: no word character right before or after.
fn bounded(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(is_word) && !after.is_some_and(is_word)
}

fn decodes_to(word: &str, secret: &str) -> bool {
    if !word.contains(['%', '+']) {
        return false;
    }
    // A word holds no '&' or '=': it parses as one key.
    form_urlencoded::parse(word.as_bytes()).any(|(k, v)| v.is_empty() && k == secret)
}

/// Replaces the byte ranges `hits` (overlapping or not) with the mask.
fn mask(text: &str, mut hits: Vec<(usize, usize)>) -> String {
    hits.sort();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in hits {
        if end <= at {
            continue;
        }
        if start >= at {
            out.push_str(&text[at..start]);
            out.push_str(MASK);
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_short_secret_is_not_spelled_out() {
        let msg = "did not answer within 200 ms";
        assert_eq!(redact(msg, "s"), msg);
        assert_eq!(
            redact("invalid appsecret s rid: 1", "s"),
            "invalid appsecret *** rid: 1"
        );
    }

    #[test]
    fn every_spelling_of_the_secret_as_a_value() {
        let secret = "a b&c=d/é\"+";
        for echoed in [
            "a b&c=d/é\"+",
            "a+b%26c%3Dd%2F%C3%A9%22%2B",
            "a%20b%26c%3Dd%2F%C3%A9%22%2B",
            "a+b%26c%3dd%2f%c3%a9%22%2b",
            "a%20b%26c%3dd%2F%c3%A9%22%2b",
            r#"a b&c=d/é\"+"#,
        ] {
            for shape in ["secret={} rid", "{\"secret\":\"{}\"}", "{}", "hint: [{}]"] {
                let text = shape.replace("{}", echoed);
                let out = redact(&text, secret);
                assert!(out.contains("***"), "{text} -> {out}");
                assert!(
                    !out.contains("%C3%A9") && !out.contains('é'),
                    "{text} -> {out}"
                );
            }
        }
        let hex = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            redact(&format!("/cgi-bin/token?appid=wx1&secret={hex}&x=1"), hex),
            "/cgi-bin/token?appid=wx1&secret=***&x=1"
        );
        // Inside a longer word it is some other value.
        assert_eq!(redact(&format!("x{hex}"), hex), format!("x{hex}"));
    }
}
