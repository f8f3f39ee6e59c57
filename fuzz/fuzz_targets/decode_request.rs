//! The message decoder on arbitrary bytes: it must return a request or a list of errors,
//! never panic, whatever a producer puts on the queue.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match turnover::wire::decode_request(data) {
        Ok(request) => {
            // What the worker stores must be accepted again as a record.
            let again = serde_json::to_vec(&request.record.to_json()).expect("a record serialises");
            assert!(
                turnover::wire::decode_request(&again).is_ok(),
                "the canonical form of a valid record is valid"
            );
        }
        Err(error) => {
            let _ = (error.reason(), error.errors());
        }
    }
});
