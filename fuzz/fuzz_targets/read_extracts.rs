//! The three-file CSV reader on arbitrary bytes, split into the three files at the first two
//! 0xFF bytes (never valid UTF-8, so a split point is never part of a well-formed CSV): it must
//! return the joined extracts or an error that points into a file, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0xFF);
    let sondage = parts.next().unwrap_or_default();
    let eval = parts.next().unwrap_or_default();
    let sirh = parts.next().unwrap_or_default();
    match turnover::extracts::read_readers(sondage, eval, sirh) {
        Ok(extracts) => {
            // Validation maps record errors back to file, line and column: it must not panic either.
            let _ = turnover::extracts::validate_rows(&extracts);
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
