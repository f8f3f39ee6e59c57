//! The rule every identifier obeys where it enters: the envelope's `request_id`, the
//! `Idempotency-Key` header of `POST /predict`, the `x-batch-id` header and the AMQP
//! `message_id` (docs/contract.md#identifiers).
//!
//! An identifier becomes a key (of `predictions`, of `rejected_messages`, of a batch): what
//! Postgres or its btree index would refuse (a NUL, 2,700 bytes and more) must be refused here,
//! one message at a time, before it can cost a whole batch its transaction. This module owns
//! the rule and the way a refused id is kept for the record; it must not decide what becomes
//! of the message.

use serde_json::Value;

use super::FieldError;

/// The longest identifier, in bytes.
pub const MAX_ID_BYTES: usize = 200;

/// The rule, as stated in every error that refuses an identifier.
pub const ID_RULE: &str = "must be 1 to 200 bytes of UTF-8 with no control characters";

/// Checks one identifier; `field` names it in the error (`request_id`, `Idempotency-Key`,
/// `x-batch-id`, `message_id`).
///
/// # Errors
/// A [`FieldError`] on `field` stating [`ID_RULE`], whose value is the refused id cut to
/// [`MAX_ID_BYTES`] bytes (invalid UTF-8 replaced), so the error itself is always storable.
pub fn check_id<'a>(field: &str, id: &'a [u8]) -> Result<&'a str, FieldError> {
    match std::str::from_utf8(id) {
        Ok(s) if !s.is_empty() && s.len() <= MAX_ID_BYTES && !s.chars().any(char::is_control) => {
            Ok(s)
        }
        _ => Err(refused(field, id)),
    }
}

/// The error that refuses `id` as `field`.
#[must_use]
pub fn refused(field: &str, id: &[u8]) -> FieldError {
    FieldError::new(field, ID_RULE, Value::String(cut(id)))
}

/// `bytes` as text of at most [`MAX_ID_BYTES`] bytes: invalid UTF-8 replaced, cut on a
/// character boundary. Control characters stay (the value shows what was refused); storage
/// escapes the NUL that `jsonb` cannot hold.
#[must_use]
pub fn cut(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(MAX_ID_BYTES + 4)];
    let text = String::from_utf8_lossy(head);
    let mut end = text.len().min(MAX_ID_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_1_to_200_visible_bytes_pass() {
        assert_eq!(check_id("request_id", b"hr-000123"), Ok("hr-000123"));
        assert!(check_id("request_id", "é".repeat(100).as_bytes()).is_ok());
        assert!(check_id("request_id", &[b'a'; 200]).is_ok());
    }

    #[test]
    fn empty_long_control_and_invalid_ids_are_refused_naming_the_field() {
        for bad in [
            &b""[..],
            &[b'a'; 201],
            b"http\0poison",
            b"tab\there",
            b"del\x7f",
            "c1\u{85}".as_bytes(),
            b"\xff\xfe",
        ] {
            let error = check_id("x-batch-id", bad).expect_err("refused");
            assert_eq!(error.field, "x-batch-id");
            assert_eq!(error.message, ID_RULE);
            let kept = error.value.as_str().expect("a string");
            assert!(kept.len() <= MAX_ID_BYTES, "{}", kept.len());
        }
    }

    #[test]
    fn a_refused_id_is_kept_cut_to_200_bytes_on_a_char_boundary() {
        let long = "é".repeat(1_500);
        let kept = cut(long.as_bytes());
        assert_eq!(kept.len(), 200);
        assert!(long.starts_with(&kept));
        assert_eq!(cut(b"ab\xffc"), "ab\u{fffd}c");
    }
}
